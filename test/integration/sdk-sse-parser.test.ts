import { describe, expect, it } from 'vitest';
import { SseParser } from '../../src/sdk/sse-parser.js';

describe('SseParser', () => {
  it('dispatches on a blank line, with event, data and id', () => {
    const parser = new SseParser();
    expect(
      parser.push(': rotor events\n\nid: 7\nevent: rotation.promoted\ndata: {"a":1}\n\n'),
    ).toEqual([{ event: 'rotation.promoted', data: '{"a":1}', id: '7' }]);
  });

  it('keeps partial lines across chunks, whatever the line ending', () => {
    const parser = new SseParser();
    const text = 'id: 1\r\nevent: e\r\ndata: one\r\ndata: two\r\n\r\ndata:x\r\rid: 2\ndata: y\n\n';
    const messages = [...text].flatMap((char) => parser.push(char));
    expect(messages).toEqual([
      { event: 'e', data: 'one\ntwo', id: '1' },
      { event: 'message', data: 'x', id: '1' },
      { event: 'message', data: 'y', id: '2' },
    ]);
  });

  it('ignores comments, unknown fields and blocks without data', () => {
    const parser = new SseParser();
    expect(parser.push(': keep-alive\n\nretry: 10\nfoo: bar\n\nevent: only\n\n')).toEqual([]);
    expect(parser.push('data\n\n')).toEqual([{ event: 'message', data: '', id: undefined }]);
  });
});
