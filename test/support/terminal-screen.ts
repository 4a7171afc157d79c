/**
 * A small model of a terminal's screen, enough for what Node's readline and the CLI write:
 * printable text (wrapping at the width), CR, LF, backspace, and the CSI sequences for cursor
 * moves (A B C D G H), erasing (K J) and attributes (m, ignored, as are modes h/l).
 */
export class TerminalScreen {
  private readonly rows: string[][] = [[]];
  private row = 0;
  private col = 0;
  private pending = '';

  constructor(
    private readonly height: number,
    private readonly width: number,
  ) {}

  /** Every line written so far (including those scrolled off), trailing spaces trimmed. */
  lines(): string[] {
    return this.rows.map((cells) => cells.join('').replace(/\s+$/, ''));
  }

  /** The line the cursor is on. */
  cursorLine(): string {
    return (this.rows[this.row] ?? []).join('').replace(/\s+$/, '');
  }

  write(text: string): void {
    const input = this.pending + text;
    this.pending = '';
    for (let i = 0; i < input.length; i++) {
      const ch = input[i]!;
      if (ch === '\x1b') {
        const rest = input.slice(i);
        const csi = /^\x1b\[([?0-9;]*)([@-~])/.exec(rest);
        if (csi) {
          this.csi(csi[1]!, csi[2]!);
          i += csi[0].length - 1;
          continue;
        }
        if (rest.length < 8 && /^\x1b(\[[?0-9;]*)?$/.test(rest)) {
          this.pending = rest; // a sequence cut between two chunks
          return;
        }
        i += 1; // a two-byte escape: skip its second byte
        continue;
      }
      const code = input.codePointAt(i)!;
      if (code > 0xffff) i++; // the second half of a surrogate pair
      if (ch === '\r') this.col = 0;
      else if (ch === '\n') this.moveTo(this.row + 1, this.col);
      else if (ch === '\b') this.col = Math.max(0, this.col - 1);
      else if (code >= 0x20) this.put(String.fromCodePoint(code));
    }
  }

  private put(ch: string): void {
    if (this.col >= this.width) this.moveTo(this.row + 1, 0);
    const line = this.line(this.row);
    while (line.length < this.col) line.push(' ');
    line[this.col] = ch;
    this.col++;
  }

  private csi(params: string, final: string): void {
    const numbers = params.replace('?', '').split(';').map((value) => (value === '' ? undefined : Number(value)));
    const n = numbers[0] ?? 1;
    switch (final) {
      case 'A':
        return this.moveTo(Math.max(this.row - n, this.top()), this.col);
      case 'B':
        return this.moveTo(this.row + n, this.col);
      case 'C':
        this.col = Math.min(this.col + n, this.width - 1);
        return;
      case 'D':
        this.col = Math.max(this.col - n, 0);
        return;
      case 'G':
        this.col = Math.max(n - 1, 0);
        return;
      case 'H':
        return this.moveTo(this.top() + (numbers[0] ?? 1) - 1, (numbers[1] ?? 1) - 1);
      case 'K': {
        const line = this.line(this.row);
        const mode = numbers[0] ?? 0;
        if (mode === 0) line.length = Math.min(line.length, this.col);
        else if (mode === 1) for (let c = 0; c <= this.col && c < line.length; c++) line[c] = ' ';
        else line.length = 0;
        return;
      }
      case 'J': {
        if ((numbers[0] ?? 0) !== 0) return;
        this.line(this.row).length = Math.min(this.line(this.row).length, this.col);
        this.rows.length = this.row + 1;
        return;
      }
      default:
        return; // m (colours), h/l (modes) and the rest change nothing we read
    }
  }

  /** The first row still on screen: older ones have scrolled off (but stay in lines()). */
  private top(): number {
    return Math.max(0, this.rows.length - this.height);
  }

  private moveTo(row: number, col: number): void {
    while (this.rows.length <= row) this.rows.push([]);
    this.row = row;
    this.col = col;
  }

  private line(row: number): string[] {
    while (this.rows.length <= row) this.rows.push([]);
    return this.rows[row]!;
  }
}
