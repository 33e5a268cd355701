// Renders every conversation in conversations.json with every template in manifest.json through
// @huggingface/transformers' PreTrainedTokenizer.apply_chat_template (an implementation independent of LlmKit)
// and writes expected/<template>.json. Usage (outside the repository, see README.md):
//   node generate.mjs <folder with node_modules/@huggingface/transformers> <any tokenizer.json>
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

const here = path.dirname(new URL(import.meta.url).pathname);
const [npmFolder, tokenizerJsonPath] = process.argv.slice(2);
if (!npmFolder || !tokenizerJsonPath) {
  throw new Error("usage: node generate.mjs <npm folder> <tokenizer.json>");
}

const require = createRequire(path.join(path.resolve(npmFolder), "package.json"));
const entry = require.resolve("@huggingface/transformers");
const { PreTrainedTokenizer } = await import(pathToFileURL(entry).href);
const packageVersion = (name) =>
  JSON.parse(fs.readFileSync(path.join(path.resolve(npmFolder), "node_modules", name, "package.json"), "utf8")).version;
const versions = `@huggingface/transformers ${packageVersion("@huggingface/transformers")}, @huggingface/jinja ${packageVersion("@huggingface/jinja")}`;

const tokenizerJson = JSON.parse(fs.readFileSync(tokenizerJsonPath, "utf8"));
const manifest = JSON.parse(fs.readFileSync(path.join(here, "manifest.json"), "utf8"));
const conversations = JSON.parse(fs.readFileSync(path.join(here, "conversations.json"), "utf8"));

// The shapes Hugging Face documents for apply_chat_template (and LlmKit's JinjaChatTemplate builds):
// tools as {type: "function", function: {name, description, parameters}}, calls as {id, type, function: {name, arguments}}.
const toHfTool = (t) => ({ type: "function", function: { name: t.name, description: t.description, parameters: t.parameters } });
function toHfMessage(m) {
  const out = { role: m.role, content: m.content };
  if (m.tool_calls && m.tool_calls.length > 0) {
    out.tool_calls = m.tool_calls.map((c) => ({ id: c.id, type: "function", function: { name: c.name, arguments: c.arguments } }));
  }
  if (m.tool_call_id !== undefined) out.tool_call_id = m.tool_call_id;
  if (m.name !== undefined) out.name = m.name;
  return out;
}

fs.mkdirSync(path.join(here, "expected"), { recursive: true });
for (const t of manifest.templates) {
  // A string template, or Hugging Face's list form [{name, template}] when the entry names several files.
  const chat_template = t.file
    ? fs.readFileSync(path.join(here, t.file), "utf8")
    : Object.entries(t.named_files).map(([name, file]) => ({ name, template: fs.readFileSync(path.join(here, file), "utf8") }));
  const tokenizer = new PreTrainedTokenizer(tokenizerJson, { ...t.special_tokens, chat_template });
  const renderings = {};
  for (const c of conversations.cases) {
    if (c.templates && !c.templates.includes(t.name)) continue;
    if (c.templates_exclude && c.templates_exclude.includes(t.name)) continue;
    const tools = c.tools ? conversations.tools[c.tools].map(toHfTool) : null;
    try {
      const output = tokenizer.apply_chat_template(c.messages.map(toHfMessage), {
        tokenize: false,
        add_generation_prompt: c.add_generation_prompt,
        tools,
        ...(c.variables ?? {}),
      });
      renderings[c.name] = { output };
    } catch (e) {
      renderings[c.name] = { error: String(e.message ?? e) };
    }
  }
  const file = path.join(here, "expected", `${t.name}.json`);
  fs.writeFileSync(file, JSON.stringify({ generator: "generate.mjs", renderer: versions, renderings }, null, 2) + "\n");
  console.log(`${t.name}: ${Object.keys(renderings).length} renderings -> ${path.relative(here, file)}`);
}
