// The console's one DOM helper. Text only ever goes in as text nodes (textContent): a job's key, a
// template's description or an ffmpeg line can hold any characters and are never parsed as markup.
// There is no `style` attribute either (the Content-Security-Policy refuses inline styles): sizes are
// set through the CSSOM (`el.style.width = …`) or a <progress>.

export type Child = Node | string | number | null | undefined | false | Child[];
type Listener = (event: Event) => void;
export type Attrs = Record<string, string | number | boolean | null | undefined | Listener>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs?: Attrs | null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === 'style' || name.toLowerCase() === 'innerhtml') throw new Error(`h(): no ${name}`);
    if (typeof value === 'function') {
      if (!name.startsWith('on')) throw new Error(`h(): ${name} is not an event`);
      el.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (name === 'class') el.className = String(value);
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

export function append(parent: Node, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else parent.appendChild(typeof child === 'object' ? child : document.createTextNode(String(child)));
  }
}

/** Replaces an element's children. */
export function replace(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, children);
}

/** Sets an element's text if it changed (a live row updates often; untouched nodes keep selection). */
export function setText(el: Element | null | undefined, text: string): void {
  if (el && el.textContent !== text) el.textContent = text;
}

/** A visually hidden text for screen readers, beside an icon or a terse cell. */
export function srOnly(text: string): HTMLSpanElement {
  return h('span', { class: 'sr-only' }, text);
}

/** A status badge: the status as text, its colour from the class (never colour alone). */
export function statusBadge(status: string): HTMLSpanElement {
  return h('span', { class: `badge status-${status.toLowerCase()}`, 'data-field': 'status' }, status);
}

export function updateStatusBadge(el: Element | null, status: string): void {
  if (!el) return;
  setText(el, status);
  el.className = `badge status-${status.toLowerCase()}`;
}

/** A <section> with a heading, for the page's landmarks. */
export function section(id: string, title: string, ...children: Child[]): HTMLElement {
  const headingId = `${id}-title`;
  return h(
    'section',
    { id, class: 'panel', 'aria-labelledby': headingId },
    h('h2', { id: headingId }, title),
    ...children,
  );
}

/** A table inside its own scroll container, so a wide table never scrolls the page. */
export function tableWrap(table: HTMLTableElement): HTMLDivElement {
  return h('div', { class: 'table-wrap' }, table);
}
