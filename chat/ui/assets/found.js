// Parley's scroll to a found message (chat/ui/components.py): a search result opens its
// conversation at a message, and the page scrolls to it once, when it is first drawn.
// Served as a file, like copy.js, for the page's Content-Security-Policy.
const shown = new Set(); // the messages this page has scrolled to already: once each
export default function (component) {
  const { data, parentElement } = component;
  if (shown.has(data.id)) return;
  shown.add(data.id);
  const host = parentElement.host ?? parentElement; // the component lives in a shadow root
  const message = host.closest("[data-testid='stChatMessage']") ?? host;
  requestAnimationFrame(() => message.scrollIntoView({ block: "start" }));
}
