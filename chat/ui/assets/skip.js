// Parley's skip link (chat/ui/components.py): the page's first stop for the keyboard, shown when
// focused, so a keyboard user reaches the prompt box without walking through the sidebar's list.
// Served as a file, like copy.js, for the page's Content-Security-Policy.
const ID = "parley-skip";
const BOX = "textarea[data-testid='stChatInputTextArea']";

export default function () {
  if (document.getElementById(ID)) return; // once per page: it survives reruns outside Streamlit's tree
  const link = document.createElement("a");
  link.id = ID;
  link.href = "#";
  link.className = "parley-skip";
  const label = () => {
    link.textContent = document.querySelector(BOX) ? "Skip to the message box" : "Skip to the main content";
  };
  label();
  link.addEventListener("focus", label);
  link.addEventListener("click", (event) => {
    event.preventDefault();
    const box = document.querySelector(BOX);
    const main = document.querySelector("[data-testid='stMain']");
    if (box) box.focus();
    else if (main) {
      main.setAttribute("tabindex", "-1");
      main.focus();
    }
  });
  document.body.prepend(link);
}
