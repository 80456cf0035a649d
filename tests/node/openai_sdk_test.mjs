// The official OpenAI Node SDK against a running vigild: completions and chat,
// whole and streamed (with stream_options.include_usage), and an API error.
// VIGIL_URL is the daemon's base URL (tests/openai_sdk_e2e_test.cc sets it).
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const base = process.env.VIGIL_URL;
assert.ok(base, 'set VIGIL_URL');
const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 120000 });

const models = await client.models.list();
const model = models.data[0].id;
assert.equal(models.data.length, 1);

// A completion, whole.
const c = await client.completions.create({ model, prompt: 'The sky is', max_tokens: 5, temperature: 0, ignore_eos: true });
assert.equal(c.object, 'text_completion');
assert.equal(c.choices.length, 1);
assert.equal(typeof c.choices[0].text, 'string');
assert.equal(c.choices[0].finish_reason, 'length');
assert.equal(c.usage.completion_tokens, 5);
assert.equal(c.usage.total_tokens, c.usage.prompt_tokens + 5);

// The same, streamed with usage: the text matches the greedy whole answer.
let text = '';
let usage = null;
let finish = null;
for await (const chunk of await client.completions.create({
  model, prompt: 'The sky is', max_tokens: 5, temperature: 0, ignore_eos: true,
  stream: true, stream_options: { include_usage: true },
})) {
  if (chunk.usage) usage = chunk.usage;
  for (const ch of chunk.choices) {
    text += ch.text;
    if (ch.finish_reason) finish = ch.finish_reason;
  }
}
assert.equal(text, c.choices[0].text);
assert.equal(finish, 'length');
assert.ok(usage, 'no usage chunk with include_usage');
assert.equal(usage.completion_tokens, 5);

// Chat, whole.
const messages = [{ role: 'user', content: 'Say something.' }];
const chat = await client.chat.completions.create({ model, messages, max_tokens: 6, temperature: 0, ignore_eos: true });
assert.equal(chat.object, 'chat.completion');
assert.equal(chat.choices[0].message.role, 'assistant');
assert.equal(typeof chat.choices[0].message.content, 'string');
assert.equal(chat.usage.completion_tokens, 6);

// Chat, streamed with usage: a role first, content deltas, then usage.
let content = '';
let role = null;
let chatUsage = null;
let chunks = 0;
const stream = await client.chat.completions.create({
  model, messages, max_tokens: 6, temperature: 0, ignore_eos: true, stream: true, stream_options: { include_usage: true },
});
for await (const chunk of stream) {
  ++chunks;
  assert.equal(chunk.object, 'chat.completion.chunk');
  if (chunk.usage) chatUsage = chunk.usage;
  for (const ch of chunk.choices) {
    if (ch.delta.role) role = ch.delta.role;
    if (ch.delta.content) content += ch.delta.content;
  }
}
assert.equal(role, 'assistant');
assert.equal(content, chat.choices[0].message.content);
assert.ok(chatUsage);
assert.equal(chatUsage.completion_tokens, 6);
assert.ok(chunks >= 3);

// An invalid request: the SDK's typed error, with the server's message.
await assert.rejects(
  client.completions.create({ model, prompt: 'x', max_tokens: -1 }),
  (e) => e instanceof OpenAI.BadRequestError && e.status === 400 && /max_tokens/.test(e.message),
);
// An unknown model: 404.
await assert.rejects(
  client.completions.create({ model: 'no-such-model', prompt: 'x', max_tokens: 1 }),
  (e) => e instanceof OpenAI.NotFoundError && e.status === 404,
);

// Twenty concurrent streams through the SDK: all complete.
const many = await Promise.all(Array.from({ length: 20 }, async () => {
  let n = 0;
  for await (const chunk of await client.completions.create({ model, prompt: 'Hi', max_tokens: 3, ignore_eos: true, stream: true }))
    n += chunk.choices.length;
  return n;
}));
assert.ok(many.every((n) => n >= 3), JSON.stringify(many));

console.log(`ok: OpenAI Node SDK against ${base} (model ${model})`);
