/* igtools: a link to an element row (#Patient.identifier:rpps) that sits in a content
   tab not shown selects that tab first, then scrolls to the row. */
(function () {
  function reveal() {
    var id;
    try {
      id = decodeURIComponent(window.location.hash.slice(1));
    } catch (e) {
      return;
    }
    if (!id) return;
    var target = document.getElementById(id);
    if (!target) return;
    var block = target.closest(".tabbed-block");
    if (!block) return;
    var set = block.closest(".tabbed-set");
    var blocks = Array.prototype.slice.call(block.parentNode.children);
    var inputs = set ? set.querySelectorAll(":scope > input") : [];
    var input = inputs[blocks.indexOf(block)];
    if (input && !input.checked) input.click();
    target.scrollIntoView();
  }
  window.addEventListener("hashchange", reveal);
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", reveal);
  } else {
    reveal();
  }
})();
