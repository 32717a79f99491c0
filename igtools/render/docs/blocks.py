"""The block scanner of the narrative pages: CommonMark structure (the IG Publisher's)
into Python-Markdown's (nested lists on four spaces, a blank line before a list, table or
fence that follows a paragraph, ``markdown="1"`` on HTML blocks that hold markdown,
unclosed HTML blocks closed), each line classified (markdown, code, HTML)."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

# Python-Markdown's block-level elements: a line starting with one opens a raw HTML block
_BLOCK_TAGS = frozenset(
    "address article aside blockquote body canvas center colgroup dd details dialog div "  # noqa: SIM905
    "dl dt fieldset figcaption figure footer form group h1 h2 h3 h4 h5 h6 header hgroup "
    "hr html iframe legend li main map math menu nav noscript object ol option output p "
    "pre progress script section style summary table tbody td textarea tfoot th thead tr "
    "ul video".split()
)
_VOID_TAGS = frozenset(
    "area base br col embed hr img input link meta param source track wbr".split()  # noqa: SIM905
)


def _heading_text(markdown: str) -> str:
    """The text a heading's markdown renders to (close to what the toc extension sees)."""
    text = re.sub(r"\s*\{:?\s*[#.][^}]*\}\s*$", "", markdown)
    text = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"\[([^\]]*)\]\[[^\]]*\]", r"\1", text)
    text = re.sub(r"<[^>]+>", "", text)
    text = text.replace("`", "").replace("*", "")
    text = re.sub(r"(?<!\w)_+(?=\S)|(?<=\S)_+(?!\w)", "", text)
    return html.unescape(text).strip()


def _expand_leading(line: str) -> str:
    m = re.match(r"[ \t]*", line)
    assert m is not None
    return m.group(0).expandtabs(4) + line[m.end() :]


def _indent_of(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


@dataclass
class Line:
    text: str
    src: int
    kind: str  # md | code | html | htmlmd
    block: int = -1  # HTML block number


# -- the block scanner: CommonMark structure into Python-Markdown's ---------------------

_FENCE = re.compile(r"^(`{3,}|~{3,})(.*)$")
_LIST_ITEM = re.compile(r"^([-+*]|\d{1,9}[.)])([ \t]+|$)(.*)$")
_HR = re.compile(r"^([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_SETEXT = re.compile(r"^(=+|-+)[ \t]*$")
_ATX = re.compile(r"^#{1,6}(?:[ \t]|$)")
_ATX_NO_SPACE = re.compile(r"^#{1,6}(?=[^#\s])")
_HTML_START = re.compile(r"^<([A-Za-z][A-Za-z0-9-]*)(?=[\s/>]|$)")
_TABLE_DELIM = re.compile(r"^\|?[ \t]*:?-+:?[ \t]*(\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$")
_TAG_TOKEN = re.compile(
    r"<!--.*?-->|<(/?)([A-Za-z][A-Za-z0-9-]*)((?:\"[^\"]*\"|'[^']*'|[^'\">])*?)(/?)>", re.S
)


@dataclass
class _Item:
    src_col: int
    new_col: int


class Scanner:
    """One page's lines, classified and re-indented for Python-Markdown."""

    def __init__(self, lines: list[tuple[str, int]]) -> None:
        self.src = lines
        self.out: list[Line] = []
        self.blocks = 0
        self.headings: list[tuple[str, str, int]] = []  # (text, explicit id, level)
        self.raw_ids: list[str] = []

    def emit(self, text: str, src: int, kind: str = "md", block: int = -1) -> None:
        self.out.append(Line(text, src, kind, block))

    def blank_before(self, src: int) -> None:
        if self.out and self.out[-1].text.strip():
            self.emit("", src)

    def starts_block(self, content: str) -> bool:
        return bool(
            _LIST_ITEM.match(content)
            or _ATX.match(content)
            or _FENCE.match(content)
            or _HR.match(content)
            or content.startswith(">")
            or self.html_start(content)
        )

    @staticmethod
    def html_start(content: str) -> bool:
        if content.startswith("<!--"):
            return True
        m = _HTML_START.match(content)
        return bool(m and m.group(1).lower() in _BLOCK_TAGS)

    def run(self) -> list[Line]:
        lines = self.src
        stack: list[_Item] = []
        in_para = False
        para_starts_item = False  # the open paragraph began on a list item's line
        para_depth = 0  # how many list items hold the open paragraph
        i = 0
        n = len(lines)
        while i < n:
            raw, src = lines[i]
            if not raw.strip():
                self.emit("", src)
                in_para = False
                i += 1
                continue
            text = _expand_leading(raw)
            ind = _indent_of(text)
            content = text[ind:].rstrip("\n")
            lazy = False
            if stack and ind < stack[-1].src_col:
                if in_para and not self.starts_block(content):
                    lazy = True
                else:
                    while stack and ind < stack[-1].src_col:
                        stack.pop()
            base_src = stack[-1].src_col if stack else 0
            base_new = stack[-1].new_col if stack else 0
            rel = ind - base_src
            pad = " " * base_new
            if lazy:
                self.emit(pad + content, src)
                i += 1
                continue
            if rel >= 4 and not in_para:
                i = self.indented_code(i, base_src, base_new)
                continue
            if rel <= 3 and _FENCE.match(content):
                i = self.fence(i, ind, base_new)
                in_para = False
                continue
            if rel <= 3 and self.html_start(content):
                stack.clear()
                i = self.html_block(i, ind)
                in_para = False
                continue
            if rel <= 3 and _ATX.match(content):
                m = re.match(r"^(#{1,6})[ \t]*(.*?)(?:[ \t]+#+)?[ \t]*$", content)
                if m:
                    self.add_heading(m.group(2), len(m.group(1)))
                self.emit(pad + content, src)
                in_para = False
                i += 1
                continue
            if in_para and rel <= 3 and _SETEXT.match(content):
                previous = next((ln for ln in reversed(self.out) if ln.text.strip()), None)
                if previous is not None:
                    self.add_heading(previous.text.strip(), 1 if content[0] == "=" else 2)
                self.emit(pad + content, src)
                in_para = False
                i += 1
                continue
            if rel <= 3 and _HR.match(content):
                self.emit(pad + content, src)
                in_para = False
                i += 1
                continue
            item = _LIST_ITEM.match(content) if rel <= 3 else None
            if item is not None:
                marker, spacing, rest = item.groups()
                number = marker[:-1] if marker[-1] in ".)" else ""
                interrupts = bool(rest.strip()) and (not number or int(number) == 1)
                # CommonMark: only a non-empty bullet or "1." may interrupt a paragraph of
                # the same container; Python-Markdown wants a blank line before the list
                same_container = in_para and para_depth == len(stack)
                if not same_container or interrupts:
                    if same_container and not para_starts_item:
                        self.blank_before(src)
                    width = len((" " * (ind + len(marker)) + spacing).expandtabs(4)) - (
                        ind + len(marker)
                    )
                    if not rest.strip() or width > 4:
                        width = 1
                    stack.append(_Item(ind + len(marker) + width, base_new + 4))
                    self.emit(pad + marker + " " + rest, src)
                    in_para = bool(rest.strip())
                    para_starts_item = True
                    para_depth = len(stack)
                    i += 1
                    continue
            if rel <= 3 and "|" in content and i + 1 < n:
                delim = _expand_leading(lines[i + 1][0]).strip()
                if _TABLE_DELIM.match(delim) and ("|" in delim or content.startswith("|")):
                    if in_para:
                        self.blank_before(src)
                    while i < n and lines[i][0].strip():
                        self.emit(pad + _expand_leading(lines[i][0]).strip(), lines[i][1])
                        i += 1
                    in_para = False
                    continue
            if rel <= 3 and _ATX_NO_SPACE.match(content):
                content = "\\" + content  # "#word" is text in CommonMark, a heading here
            if re.search(r"(?<!\\)(?:\\\\)*\\$", content):
                content = content[:-1] + "<br>"  # CommonMark hard line break
            if not in_para:
                para_starts_item = False
                para_depth = len(stack)
            self.emit(pad + content, src)
            in_para = True
            i += 1
        for ln in self.out:  # ids of raw HTML elements are anchors too
            if ln.kind != "code":
                self.raw_ids.extend(
                    m.group(1)
                    for m in re.finditer(r"\s(?:id|name)\s*=\s*[\"']([^\"']+)[\"']", ln.text)
                )
        return self.out

    def add_heading(self, markdown: str, level: int) -> None:
        explicit = re.search(r"\{:?\s*#([\w-]+)[^}]*\}\s*$", markdown)
        self.headings.append(
            (_heading_text(markdown), explicit.group(1) if explicit else "", level)
        )

    def indented_code(self, i: int, base_src: int, base_new: int) -> int:
        lines = self.src
        last = i
        j = i
        while j < len(lines):
            text = _expand_leading(lines[j][0])
            if text.strip() and _indent_of(text) < base_src + 4:
                break
            if text.strip():
                last = j
            j += 1
        for k in range(i, last + 1):
            text = _expand_leading(lines[k][0])
            shift = min(_indent_of(text), base_src)
            self.emit(" " * base_new + text[shift:], lines[k][1], "code")
        return last + 1

    def fence(self, i: int, ind: int, base_new: int) -> int:
        lines = self.src
        opening = _expand_leading(lines[i][0])
        m = _FENCE.match(opening[ind:])
        assert m is not None
        marker = m.group(1)
        self.blank_before(lines[i][1])
        pad = " " * base_new
        self.emit(pad + opening[ind:], lines[i][1], "code")
        j = i + 1
        closing = re.compile(r"^ *" + re.escape(marker[0]) + "{" + str(len(marker)) + r",}[ \t]*$")
        while j < len(lines):
            text = _expand_leading(lines[j][0])
            if closing.match(text) and _indent_of(text) - ind <= 3:
                self.emit(pad + text.strip(), lines[j][1], "code")
                j += 1
                break
            shift = min(_indent_of(text), ind)
            self.emit((pad + text[shift:]) if text.strip() else "", lines[j][1], "code")
            j += 1
        if j < len(lines) and lines[j][0].strip():
            self.emit("", lines[j][1])
        return j

    def html_block(self, i: int, dedent: int) -> int:
        """One raw HTML block, to its matching closing tag (as Python-Markdown reads it)."""
        lines = self.src
        self.blank_before(lines[i][1])
        self.blocks += 1
        block = self.blocks
        start_out = len(self.out)
        stack: list[tuple[str, int, int, bool]] = []  # tag, out index, '>' position, md
        comment = lines[i][0].lstrip().startswith("<!--")
        after_blank = False
        md_mode = False
        patches: list[tuple[int, int]] = []  # (out index, position): insert markdown="1"
        end = None
        carry = ""
        j = i
        while j < len(lines):
            raw, src = lines[j]
            text = _expand_leading(raw)
            text = text[min(_indent_of(text), dedent) :]
            if comment:
                self.emit(text, src, "html", block)
                j += 1
                if "-->" in raw:
                    end = j
                    break
                continue
            if not text.strip():
                self.emit("", src, "html", block)
                after_blank = True
                md_mode = False
                j += 1
                continue
            if text.lstrip().startswith("<"):
                md_mode = False
            elif after_blank:
                md_mode = True
            after_blank = False
            kind = "htmlmd" if md_mode else "html"
            if md_mode:
                for tag, out_index, pos, has_md in stack:
                    if not has_md and tag not in ("pre", "script", "style", "textarea"):
                        patches.append((out_index, pos))
                stack = [(t, o, p, True) for t, o, p, _ in stack]
            self.emit(text, src, kind, block)
            out_index = len(self.out) - 1
            scan = carry + text
            offset = len(carry)
            carry = ""
            pos = 0
            for m in _TAG_TOKEN.finditer(scan):
                pos = m.end()
                if m.group(0).startswith("<!--") or m.group(2) is None:
                    continue
                name = m.group(2).lower()
                if m.group(1):  # closing tag
                    names = [s[0] for s in stack]
                    if name in names:
                        while stack and stack.pop()[0] != name:
                            pass
                elif not m.group(4) and name not in _VOID_TAGS:
                    has_md = re.search(r"\smarkdown\s*=", m.group(3) or "") is not None
                    gt = m.end() - 1 - offset
                    if gt < 0:  # the tag started on an earlier line: cannot patch it
                        has_md = True
                    stack.append((name, out_index, gt, has_md))
            rest = scan[pos:]
            lt = rest.rfind("<")
            if lt >= 0 and ">" not in rest[lt:]:
                carry = rest[lt:] + "\n"
            j += 1
            if not stack and not carry:
                end = j
                break
        if end is None and not comment:
            # never closed: CommonMark ends the block at the first blank line; close the
            # open elements there so that Python-Markdown does not swallow the page
            del self.out[start_out:]
            patches = []
            j = i
            while j < len(lines) and lines[j][0].strip():
                text = _expand_leading(lines[j][0])
                self.emit(text[min(_indent_of(text), dedent) :], lines[j][1], "html", block)
                j += 1
            open_tags = self._open_tags("\n".join(ln.text for ln in self.out[start_out:]))
            if open_tags and self.out[start_out:]:
                self.out[-1].text += "".join(f"</{t}>" for t in reversed(open_tags))
            end = j
        for out_index, pos in sorted(patches, key=lambda p: (p[0], -p[1])):
            line = self.out[out_index]
            at = pos - 1 if line.text[pos - 1 : pos] == "/" else pos
            line.text = line.text[:at] + ' markdown="1"' + line.text[at:]
        for ln in self.out[start_out:]:
            if ln.kind == "htmlmd":
                h = re.match(r"^\s{0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$", ln.text)
                if h:
                    self.add_heading(h.group(2), len(h.group(1)))
        assert end is not None
        return end

    @staticmethod
    def _open_tags(text: str) -> list[str]:
        stack: list[str] = []
        for m in _TAG_TOKEN.finditer(text):
            if m.group(2) is None:
                continue
            name = m.group(2).lower()
            if m.group(1):
                if name in stack:
                    while stack and stack.pop() != name:
                        pass
            elif not m.group(4) and name not in _VOID_TAGS:
                stack.append(name)
        return stack
