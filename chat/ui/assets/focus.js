// Parley's cursor in the prompt box on a new chat (chat/ui/components.py, chat/ui/welcome.py).
// Served as a file, like copy.js, for the page's Content-Security-Policy. It never takes the
// focus from where the user has put it: only from the page itself (nothing focused yet).
const BOX = "textarea[data-testid='stChatInputTextArea']";

export default function () {
  const idle = () => !document.activeElement || document.activeElement === document.body;
  let tries = 0;
  const tick = () => {
    const box = document.querySelector(BOX);
    if (box && idle()) box.focus({ preventScroll: true });
    else if (!box && tries++ < 60) requestAnimationFrame(tick); // the box may be drawn after this
  };
  requestAnimationFrame(tick);
}
