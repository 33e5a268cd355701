using System.Text.Json;
using System.Text.RegularExpressions;
using LlmKit.Models;
using Microsoft.ML.Tokenizers;

namespace LlmKit.Tokenization;

/// <summary>
/// Loads a Hugging Face <c>tokenizer.json</c> of the byte-level BPE family (GPT-2, Llama 3, Qwen 2.x) into
/// Microsoft.ML.Tokenizers' <see cref="BpeTokenizer"/>. What the library lacks is written here: reading the
/// JSON (vocab, merges, added tokens, the pre-tokenizer's split regex) and the byte table for streaming decode.
/// BPE with <c>byte_fallback</c> (Llama 2, Mistral, Phi-3) is SentencePiece in JSON form and is handed to
/// <see cref="SentencePieceJsonConverter"/>.
/// </summary>
internal static class HuggingFaceTokenizerJson
{
    // GPT-2's split pattern, used when the file's ByteLevel pre-tokenizer has use_regex true and no Split step.
    private const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    public static ModelTokenizer Load(string path, GenAIConfig genai, TokenizerConfig config)
    {
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
            var root = doc.RootElement;
            var model = Required(root, "model", "$");
            string type = model.TryGetProperty("type", out var t) ? t.GetString() ?? "" : "";
            if (type != "BPE")
            {
                throw Unsupported(path, $"model.type '{type}'");
            }

            bool byteFallback = model.TryGetProperty("byte_fallback", out var bf) && bf.ValueKind == JsonValueKind.True;
            if (byteFallback)
            {
                // Llama 2 / Mistral / Phi-3 style: SentencePiece BPE written as JSON.
                return SentencePieceJsonConverter.Load(root, path, genai, config);
            }

            var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var entry in Required(model, "vocab", "$.model").EnumerateObject())
            {
                vocab[entry.Name] = entry.Value.GetInt32();
            }

            var merges = new List<string>();
            foreach (var merge in Required(model, "merges", "$.model").EnumerateArray())
            {
                // Older files write "a b", newer ones ["a", "b"].
                merges.Add(merge.ValueKind == JsonValueKind.Array ? merge[0].GetString() + " " + merge[1].GetString() : merge.GetString()!);
            }

            // Every added token is matched whole before BPE; only the special ones are skipped when decoding. The
            // others (GPT-2's runs of spaces and tabs) decode to their text, which is raw, not byte-level mapped.
            var special = new Dictionary<string, int>(StringComparer.Ordinal);
            var specialById = new Dictionary<int, string>();
            var plainAdded = new List<KeyValuePair<string, int>>();
            if (root.TryGetProperty("added_tokens", out var added))
            {
                foreach (var token in added.EnumerateArray())
                {
                    string content = token.GetProperty("content").GetString()!;
                    int id = token.GetProperty("id").GetInt32();
                    special[content] = id;
                    if (token.TryGetProperty("special", out var isSpecial) && isSpecial.ValueKind == JsonValueKind.False)
                    {
                        plainAdded.Add(new(content, id));
                    }
                    else
                    {
                        specialById[id] = content;
                    }
                }
            }

            var regex = new Regex(SplitPattern(root), RegexOptions.Compiled);
            var options = new BpeOptions(vocab)
            {
                Merges = merges,
                SpecialTokens = special,
                PreTokenizer = new RegexPreTokenizer(regex, special),
                ByteLevel = true,
            };
            var inner = BpeTokenizer.Create(options);
            int size = Math.Max(genai.Model.VocabSize, vocab.Count + special.Count);
            var bytes = TokenByteTable.ForByteLevel(vocab.Concat(plainAdded), size, specialById, decodeSpecialTokens: false);
            var lookup = new Dictionary<string, int>(vocab, StringComparer.Ordinal);
            foreach (var (text, id) in special)
            {
                lookup[text] = id;
            }

            return ModelTokenizer.Create(inner, bytes, config, genai, lookup, fromTokenizerJson: true, stripLeadingSpace: false, "bpe-byte-level");
        }
        catch (JsonException ex)
        {
            throw new ModelFolderException($"tokenizer.json is malformed at {ex.Path ?? "$"}: {ex.Message}", ex) { FilePath = path };
        }
        catch (Exception ex) when (ex is KeyNotFoundException or InvalidOperationException or ArgumentException)
        {
            throw new ModelFolderException($"tokenizer.json could not be loaded: {ex.Message}", ex) { FilePath = path };
        }
    }

    private static string SplitPattern(JsonElement root)
    {
        if (root.TryGetProperty("pre_tokenizer", out var pre) && pre.ValueKind == JsonValueKind.Object)
        {
            foreach (var step in Steps(pre))
            {
                if (step.TryGetProperty("type", out var type) && type.GetString() == "Split"
                    && step.TryGetProperty("pattern", out var pattern) && pattern.TryGetProperty("Regex", out var regex))
                {
                    return regex.GetString()!;
                }
            }
        }

        return Gpt2Pattern;
    }

    private static IEnumerable<JsonElement> Steps(JsonElement pre)
    {
        if (pre.TryGetProperty("pretokenizers", out var list))
        {
            foreach (var item in list.EnumerateArray())
            {
                yield return item;
            }
        }
        else
        {
            yield return pre;
        }
    }

    private static JsonElement Required(JsonElement parent, string name, string at) =>
        parent.TryGetProperty(name, out var value) ? value : throw new KeyNotFoundException($"{at}.{name} is missing");

    private static ModelFolderException Unsupported(string path, string what) =>
        new($"tokenizer.json uses {what}, which LlmKit does not load yet; supported: byte-level BPE (GPT-2, Llama 3, Qwen 2.x) and BPE with byte_fallback (Llama 2, Mistral, Phi-3) in tokenizer.json, and SentencePiece in tokenizer.model.") { FilePath = path };
}
