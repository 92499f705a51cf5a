// Parley's scroll to a found message (chat/ui/components.py): a search result opens its
// conversation at a message, and the page scrolls to it once, when it is first drawn.
// Served as a file, like copy.js, for the page's Content-Security-Policy.
//
// Streamlit keeps a chat page scrolled to its bottom while the page's content grows (gliding
// there, for a second or more on a long page), and lets go once the page is scrolled while its
// size holds still. So this waits for the page to stop growing and gliding (its height and
// scroll position the same for a few frames), then scrolls: the page stays there.
const shown = new Set(); // the messages this page has scrolled to already: once each
const STILL_FRAMES = 8;

export default function (component) {
  const { data, parentElement } = component;
  if (shown.has(data.id)) return;
  shown.add(data.id);
  const host = parentElement.host ?? parentElement; // the component lives in a shadow root
  const message = host.closest("[data-testid='stChatMessage']") ?? host;
  let seen = "";
  let still = 0;
  const tick = () => {
    if (!message.isConnected) return;
    const page = document.querySelector("[data-testid='stAppScrollToBottomContainer']") ?? document.scrollingElement;
    const now = `${page.scrollHeight} ${page.scrollTop}`;
    still = now === seen ? still + 1 : 0;
    seen = now;
    if (still < STILL_FRAMES) requestAnimationFrame(tick);
    else message.scrollIntoView({ block: "start" });
  };
  requestAnimationFrame(tick);
}
