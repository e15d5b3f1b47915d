/** One dispatched Server-Sent Event. */
export interface SseMessage {
  readonly event: string;
  readonly data: string;
  /** The `id` field in effect after this message (what `Last-Event-ID` resumes from). */
  readonly id: string | undefined;
}

/**
 * An incremental `text/event-stream` parser (WHATWG HTML, "Server-sent
 * events": lines end in CRLF, LF or CR; a blank line dispatches; `:` starts a
 * comment). Feed it decoded text as it arrives; it returns the complete
 * messages and keeps a partial line for the next chunk.
 */
export class SseParser {
  #buffer = '';
  #event = '';
  #data: string[] = [];
  #id: string | undefined;
  /** A CR ended the last chunk: an LF opening the next one belongs to it. */
  #pendingCr = false;

  push(text: string): SseMessage[] {
    let chunk = text;
    if (this.#pendingCr && chunk.startsWith('\n')) chunk = chunk.slice(1);
    this.#pendingCr = false;
    this.#buffer += chunk;
    const messages: SseMessage[] = [];
    for (;;) {
      const end = this.#buffer.search(/[\r\n]/);
      if (end === -1) break;
      if (this.#buffer[end] === '\r' && end === this.#buffer.length - 1) this.#pendingCr = true;
      const width = this.#buffer.startsWith('\r\n', end) ? 2 : 1;
      const line = this.#buffer.slice(0, end);
      this.#buffer = this.#buffer.slice(end + width);
      const message = this.#line(line);
      if (message) messages.push(message);
    }
    return messages;
  }

  #line(line: string): SseMessage | undefined {
    if (line === '') return this.#dispatch();
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.#event = value;
    else if (field === 'data') this.#data.push(value);
    else if (field === 'id' && !value.includes('\0')) this.#id = value;
    return undefined;
  }

  #dispatch(): SseMessage | undefined {
    const event = this.#event || 'message';
    const data = this.#data;
    this.#event = '';
    this.#data = [];
    if (data.length === 0) return undefined;
    return { event, data: data.join('\n'), id: this.#id };
  }
}
