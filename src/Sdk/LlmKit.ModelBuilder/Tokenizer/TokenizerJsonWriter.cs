using System.Text.Encodings.Web;
using System.Text.Json;

namespace LlmKit.ModelBuilder;

/// <summary>
/// Writes a llama2.c tokenizer as a Hugging Face <c>tokenizer.json</c> in the shape Hugging Face gives Llama 2
/// (and the official onnxruntime-genai test folders carry): a BPE model with <c>byte_fallback</c>, <c>▁</c> for
/// spaces, a <c>Prepend "▁"</c> + <c>Replace " " → "▁"</c> normalizer, no pre-tokenizer, and merges.
/// onnxruntime-genai's <c>Tokenizer</c> needs this file; <c>tokenizer.model</c> says the same thing for
/// SentencePiece readers.
/// </summary>
/// <remarks>
/// SentencePiece BPE merges the adjacent pair whose merged piece scores highest; Hugging Face BPE merges the pair of
/// lowest rank. Listing, piece by piece in order of descending score, every split of a piece into two vocabulary
/// pieces makes the two agree: the best-scoring piece that can be formed is always formed first.
/// </remarks>
internal static class TokenizerJsonWriter
{
    private const string Space = "\u2581";

    private static readonly string[] SpecialPieces = ["<unk>", "<s>", "</s>"];

    public static void Write(string path, Llama2cTokenizerFile tokenizer)
    {
        string[] pieces = Pieces(tokenizer);
        using var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write);
        // Pieces as plain UTF-8 ("▁the", "<s>"), not \u escapes: the file is read by people as well as parsers.
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        json.WriteStartObject();
        json.WriteString("version", "1.0");
        json.WriteNull("truncation");
        json.WriteNull("padding");
        WriteAddedTokens(json);
        WriteNormalizer(json);
        json.WriteNull("pre_tokenizer");
        WritePostProcessor(json);
        WriteDecoder(json);
        WriteModel(json, tokenizer, pieces);
        json.WriteEndObject();
    }

    /// <summary>The pieces by id as tokenizer.json names them: spaces as "▁", special pieces by their plain names.</summary>
    /// <exception cref="InvalidDataException">Two ids have the same piece (a JSON vocabulary cannot hold both).</exception>
    internal static string[] Pieces(Llama2cTokenizerFile tokenizer)
    {
        var pieces = new string[tokenizer.VocabSize];
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int id = 0; id < pieces.Length; id++)
        {
            pieces[id] = id <= Llama2cTokenizerFile.EosId ? SpecialPieces[id]
                : Llama2cTokenizerFile.IsByteId(id) ? tokenizer.Pieces[id]
                : tokenizer.Pieces[id].Replace(" ", Space, StringComparison.Ordinal);
            if (!seen.TryAdd(pieces[id], id))
            {
                throw new InvalidDataException(
                    $"The tokenizer has the piece '{pieces[id]}' twice (ids {seen[pieces[id]]} and {id}); a tokenizer.json vocabulary needs distinct pieces.");
            }
        }

        return pieces;
    }

    /// <summary>The merges: for each normal piece, by descending score (ties by id), its splits into two normal pieces.</summary>
    internal static List<(string Left, string Right)> Merges(Llama2cTokenizerFile tokenizer, string[] pieces)
    {
        var normal = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int id = Llama2cTokenizerFile.EosId + 1; id < pieces.Length; id++)
        {
            if (!Llama2cTokenizerFile.IsByteId(id))
            {
                normal[pieces[id]] = id;
            }
        }

        var merges = new List<(string, string)>();
        var byScore = normal.Values.OrderByDescending(id => tokenizer.Scores[id]).ThenBy(id => id);
        var splits = new List<(int Left, int Right)>();
        foreach (int id in byScore)
        {
            string piece = pieces[id];
            splits.Clear();

            // Split only between text elements' code points, never inside a surrogate pair.
            for (int cut = NextCut(piece, 0); cut < piece.Length; cut = NextCut(piece, cut))
            {
                if (normal.TryGetValue(piece[..cut], out int left) && normal.TryGetValue(piece[cut..], out int right))
                {
                    splits.Add((left, right));
                }
            }

            foreach (var (left, right) in splits.OrderBy(s => s.Left).ThenBy(s => s.Right))
            {
                merges.Add((pieces[left], pieces[right]));
            }
        }

        return merges;
    }

    private static int NextCut(string text, int index) => index + (char.IsSurrogatePair(text, index) ? 2 : 1);

    private static void WriteAddedTokens(Utf8JsonWriter json)
    {
        json.WriteStartArray("added_tokens");
        for (int id = 0; id < SpecialPieces.Length; id++)
        {
            json.WriteStartObject();
            json.WriteNumber("id", id);
            json.WriteString("content", SpecialPieces[id]);
            json.WriteBoolean("single_word", false);
            json.WriteBoolean("lstrip", false);
            json.WriteBoolean("rstrip", false);
            json.WriteBoolean("normalized", false);
            json.WriteBoolean("special", true);
            json.WriteEndObject();
        }

        json.WriteEndArray();
    }

    private static void WriteNormalizer(Utf8JsonWriter json)
    {
        json.WriteStartObject("normalizer");
        json.WriteString("type", "Sequence");
        json.WriteStartArray("normalizers");
        json.WriteStartObject();
        json.WriteString("type", "Prepend");
        json.WriteString("prepend", Space);
        json.WriteEndObject();
        WriteReplace(json, " ", Space);
        json.WriteEndArray();
        json.WriteEndObject();
    }

    private static void WritePostProcessor(Utf8JsonWriter json)
    {
        json.WriteStartObject("post_processor");
        json.WriteString("type", "TemplateProcessing");
        json.WriteStartArray("single");
        WriteTemplateItem(json, special: "<s>", typeId: 0);
        WriteTemplateItem(json, sequence: "A", typeId: 0);
        json.WriteEndArray();
        json.WriteStartArray("pair");
        WriteTemplateItem(json, special: "<s>", typeId: 0);
        WriteTemplateItem(json, sequence: "A", typeId: 0);
        WriteTemplateItem(json, special: "<s>", typeId: 1);
        WriteTemplateItem(json, sequence: "B", typeId: 1);
        json.WriteEndArray();
        json.WriteStartObject("special_tokens");
        json.WriteStartObject("<s>");
        json.WriteString("id", "<s>");
        json.WriteStartArray("ids");
        json.WriteNumberValue(Llama2cTokenizerFile.BosId);
        json.WriteEndArray();
        json.WriteStartArray("tokens");
        json.WriteStringValue("<s>");
        json.WriteEndArray();
        json.WriteEndObject();
        json.WriteEndObject();
        json.WriteEndObject();
    }

    private static void WriteTemplateItem(Utf8JsonWriter json, int typeId, string? special = null, string? sequence = null)
    {
        json.WriteStartObject();
        json.WriteStartObject(special is null ? "Sequence" : "SpecialToken");
        json.WriteString("id", special ?? sequence);
        json.WriteNumber("type_id", typeId);
        json.WriteEndObject();
        json.WriteEndObject();
    }

    private static void WriteDecoder(Utf8JsonWriter json)
    {
        json.WriteStartObject("decoder");
        json.WriteString("type", "Sequence");
        json.WriteStartArray("decoders");
        WriteReplace(json, Space, " ");
        json.WriteStartObject();
        json.WriteString("type", "ByteFallback");
        json.WriteEndObject();
        json.WriteStartObject();
        json.WriteString("type", "Fuse");
        json.WriteEndObject();
        json.WriteStartObject();
        json.WriteString("type", "Strip");
        json.WriteString("content", " ");
        json.WriteNumber("start", 1);
        json.WriteNumber("stop", 0);
        json.WriteEndObject();
        json.WriteEndArray();
        json.WriteEndObject();
    }

    private static void WriteReplace(Utf8JsonWriter json, string pattern, string content)
    {
        json.WriteStartObject();
        json.WriteString("type", "Replace");
        json.WriteStartObject("pattern");
        json.WriteString("String", pattern);
        json.WriteEndObject();
        json.WriteString("content", content);
        json.WriteEndObject();
    }

    private static void WriteModel(Utf8JsonWriter json, Llama2cTokenizerFile tokenizer, string[] pieces)
    {
        json.WriteStartObject("model");
        json.WriteString("type", "BPE");
        json.WriteNull("dropout");
        json.WriteString("unk_token", SpecialPieces[Llama2cTokenizerFile.UnknownId]);
        json.WriteNull("continuing_subword_prefix");
        json.WriteNull("end_of_word_suffix");
        json.WriteBoolean("fuse_unk", true);
        json.WriteBoolean("byte_fallback", true);
        json.WriteBoolean("ignore_merges", false);
        json.WriteStartObject("vocab");
        for (int id = 0; id < pieces.Length; id++)
        {
            json.WriteNumber(pieces[id], id);
        }

        json.WriteEndObject();
        json.WriteStartArray("merges");
        foreach (var (left, right) in Merges(tokenizer, pieces))
        {
            json.WriteStartArray();
            json.WriteStringValue(left);
            json.WriteStringValue(right);
            json.WriteEndArray();
        }

        json.WriteEndArray();
        json.WriteEndObject();
    }
}
