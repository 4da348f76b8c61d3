// router.js — hash routes ("#/proposals/<id>"), so the server only ever serves "/".
//
// Exports:
//   compile(table)        table: [[pattern, Component, extraProps?], ...] with patterns like
//                         '/proposals/:id/vote'. Returns a matcher used by match().
//   match(routes, path)   -> {Component, params, props} or null; params from ':name' segments,
//                         URI-decoded.
//   currentPath()         the path after '#', '/' when empty.
//   navigate(path, {replace}?)  go to '#'+path (replace: no new history entry).
//   href(path)            '#'+path, for <a href>.
//   useRoute()            Preact hook: the current path, re-rendering on hashchange.
import { useEffect, useState } from '../vendor/htm-preact-standalone.mjs';

export function compile(table) {
  return table.map(([pattern, Component, props]) => {
    const names = [];
    const source = pattern
      .split('/')
      .map((seg) => {
        if (seg.startsWith(':')) {
          names.push(seg.slice(1));
          return '([^/]+)';
        }
        return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      })
      .join('/');
    return { re: new RegExp(`^${source}/?$`), names, Component, props: props || {} };
  });
}

export function match(routes, path) {
  for (const r of routes) {
    const m = r.re.exec(path);
    if (m) {
      const params = {};
      r.names.forEach((n, i) => {
        params[n] = decodeURIComponent(m[i + 1]);
      });
      return { Component: r.Component, params, props: r.props };
    }
  }
  return null;
}

export function currentPath() {
  const h = location.hash.replace(/^#/, '');
  return h === '' ? '/' : h;
}

export function href(path) {
  return `#${path}`;
}

export function navigate(path, { replace = false } = {}) {
  if (replace) {
    history.replaceState(null, '', `${location.pathname}${location.search}#${path}`);
    // replaceState fires no hashchange; tell the app ourselves.
    window.dispatchEvent(new HashChangeEvent('hashchange'));
  } else {
    location.hash = path;
  }
}

export function useRoute() {
  const [path, setPath] = useState(currentPath());
  useEffect(() => {
    const on = () => setPath(currentPath());
    window.addEventListener('hashchange', on);
    // The hash may have changed between the first render and this effect.
    on();
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return path;
}
