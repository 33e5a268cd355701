// Builds a Hugging Face tokenizer.json for the all-MiniLM-L6-v2 vocab.txt (BertTokenizer, uncased) and writes
// reference ids for texts.json with @huggingface/transformers, offline.
import fs from 'node:fs';
import { env, AutoTokenizer } from '@huggingface/transformers';
const vocabLines = fs.readFileSync('/tmp/minilm/vocab.txt', 'utf8').split(/\r?\n/);
if (vocabLines[vocabLines.length - 1] === '') vocabLines.pop();
const vocab = {}; vocabLines.forEach((t, i) => { vocab[t] = i; });
const special = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];
const tok = {
  version: '1.0', truncation: null, padding: null,
  added_tokens: special.map(s => ({ id: vocab[s], content: s, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
  normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
  pre_tokenizer: { type: 'BertPreTokenizer' },
  post_processor: { type: 'TemplateProcessing',
    single: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }],
    pair: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }, { SpecialToken: { id: '[SEP]', type_id: 1 } }],
    special_tokens: { '[CLS]': { id: '[CLS]', ids: [vocab['[CLS]']], tokens: ['[CLS]'] }, '[SEP]': { id: '[SEP]', ids: [vocab['[SEP]']], tokens: ['[SEP]'] } } },
  decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
  model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab },
};
fs.writeFileSync('models/minilm/tokenizer.json', JSON.stringify(tok));
fs.writeFileSync('models/minilm/tokenizer_config.json', JSON.stringify({ tokenizer_class: 'BertTokenizer', do_lower_case: true, model_max_length: 512, unk_token: '[UNK]', cls_token: '[CLS]', sep_token: '[SEP]', pad_token: '[PAD]', mask_token: '[MASK]' }));
fs.writeFileSync('models/minilm/config.json', JSON.stringify({ model_type: 'bert' }));
env.allowRemoteModels = false; env.allowLocalModels = true; env.localModelPath = './models/';
const tokenizer = await AutoTokenizer.from_pretrained('minilm');
const texts = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const cases = texts.map(text => ({ text, ids: Array.from(tokenizer.encode(text)).map(Number) }));
fs.writeFileSync(process.argv[3], JSON.stringify({
  source: 'Produced offline by @huggingface/transformers ' + JSON.parse(fs.readFileSync('node_modules/@huggingface/transformers/package.json', 'utf8')).version +
    ' (node ' + process.version + '): AutoTokenizer over a tokenizer.json built from the all-MiniLM-L6-v2 vocab.txt (sha256 ' +
    'b49e80874c5efbc7f4cde245a812673b05ef1360ced56b8bc8c750eaeef3fe0f) with a WordPiece model (unk [UNK], prefix ##, max_input_chars_per_word 100), ' +
    'BertNormalizer (clean_text, handle_chinese_chars, lowercase, strip_accents following lowercase), BertPreTokenizer and TemplateProcessing [CLS] $A [SEP]. No truncation.',
  cases }, null, 1));
console.log(cases.length, 'cases');
