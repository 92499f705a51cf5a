// Parley's Copy button (chat/ui/components.py): copies a reply's raw Markdown, which
// arrives as the component's data (JSON), never as part of this file or its HTML.
// Served as a file (/_stcore/bidi-components/parley.copy/copy.js) so that the page's
// Content-Security-Policy (`script-src 'self'`) lets it run.
// The clipboard API exists only on HTTPS and localhost; elsewhere the old
// `execCommand("copy")` on a hidden textarea still works.
export default function (component) {
  const { data, parentElement } = component;
  const button = parentElement.querySelector("button");
  button.onclick = async () => {
    let copied = false;
    try {
      await navigator.clipboard.writeText(data.text);
      copied = true;
    } catch (error) {
      const area = document.createElement("textarea");
      area.value = data.text;
      area.setAttribute("readonly", "");
      area.style.position = "fixed";
      area.style.opacity = "0";
      document.body.appendChild(area);
      area.select();
      copied = document.execCommand("copy");
      area.remove();
    }
    button.textContent = copied ? "Copied" : "Copy failed";
    setTimeout(() => { button.textContent = "Copy"; }, 1500);
  };
  button.disabled = false; // drawn disabled: a click before this line would have done nothing
}
