using System.Text.Json;
using Google.Protobuf;
using LlmKit.Models;

namespace LlmKit.Tokenization;

/// <summary>
/// Turns a SentencePiece-style Hugging Face <c>tokenizer.json</c> (BPE with <c>byte_fallback</c>: Llama 2, Mistral,
/// Phi-3) into an in-memory SentencePiece ModelProto of BPE type and loads it like a <c>tokenizer.model</c>.
/// </summary>
/// <remarks>
/// SentencePiece BPE merges the adjacent pair whose merged piece scores highest; Hugging Face merges the pair of
/// lowest merge rank. Giving the piece made by merge <c>i</c> the score <c>-i</c> (its first merge wins) makes the
/// two agree; pieces no merge makes (characters, bytes, special tokens) score below every merged piece.
/// The ModelProto is written by hand with <see cref="CodedOutputStream"/> so that the runtime does not depend on the
/// model builder's generated classes. Field numbers follow sentencepiece_model.proto.
/// Stateless and thread-safe.
/// </remarks>
internal static class SentencePieceJsonConverter
{
    private const char SpaceSymbol = '\u2581';

    // ModelProto
    private const int PiecesField = 1;
    private const int TrainerSpecField = 2;
    private const int NormalizerSpecField = 3;

    // ModelProto.SentencePiece
    private const int PieceField = 1;
    private const int ScoreField = 2;
    private const int TypeField = 3;

    // TrainerSpec
    private const int ModelTypeField = 3;
    private const int VocabSizeField = 4;
    private const int ByteFallbackField = 35;
    private const int UnkIdField = 40;
    private const int BosIdField = 41;
    private const int EosIdField = 42;
    private const int PadIdField = 43;
    private const int ModelTypeBpe = 2;

    // NormalizerSpec
    private const int NormalizerNameField = 1;
    private const int AddDummyPrefixField = 3;
    private const int RemoveExtraWhitespacesField = 4;
    private const int EscapeWhitespacesField = 5;

    /// <summary>Loads the tokenizer of a parsed <c>tokenizer.json</c> whose model is BPE with byte fallback.</summary>
    /// <param name="root">The document's root object.</param>
    /// <param name="path">The file, for error messages.</param>
    /// <param name="genai">The folder's genai_config.json.</param>
    /// <param name="config">The folder's tokenizer_config.json.</param>
    /// <exception cref="ModelFolderException">The file cannot be expressed as a SentencePiece BPE model.</exception>
    public static ModelTokenizer Load(JsonElement root, string path, GenAIConfig genai, TokenizerConfig config)
    {
        var added = AddedTokens(root, config);
        byte[] proto = ToModelProto(root, config, added, path);
        using var stream = new MemoryStream(proto, writable: false);
        return ModelTokenizer.LoadSentencePiece(stream, path, genai, config, added, "sentencepiece-json");
    }

    /// <summary>Builds the serialized ModelProto for a parsed <c>tokenizer.json</c>.</summary>
    /// <param name="root">The document's root object.</param>
    /// <param name="config">The folder's tokenizer_config.json (names the BOS and EOS tokens).</param>
    /// <param name="added">The added tokens: in-vocabulary ones become CONTROL (special) or USER_DEFINED pieces.</param>
    /// <param name="path">The file, for error messages.</param>
    internal static byte[] ToModelProto(JsonElement root, TokenizerConfig config, IReadOnlyDictionary<string, (int Id, bool Special)> added, string path)
    {
        var model = root.GetProperty("model");
        string[] pieces = PiecesById(model, path);
        var idOf = new Dictionary<string, int>(pieces.Length, StringComparer.Ordinal);
        for (int id = 0; id < pieces.Length; id++)
        {
            idOf[pieces[id]] = id;
        }

        var scores = MergeScores(model, idOf, path);
        string unkToken = model.TryGetProperty("unk_token", out var u) && u.ValueKind == JsonValueKind.String ? u.GetString()! : "<unk>";
        if (!idOf.TryGetValue(unkToken, out int unkId))
        {
            throw new ModelFolderException(
                $"tokenizer.json's byte-fallback BPE model has no unknown piece '{unkToken}' in model.vocab, which a SentencePiece model needs; ship tokenizer.model beside it instead.")
            { FilePath = path };
        }

        int bosId = IdOrNone(idOf, config.BosToken ?? "<s>");
        int eosId = IdOrNone(idOf, config.EosToken ?? "</s>");
        int padId = IdOrNone(idOf, "<pad>");

        var types = new int[pieces.Length];
        for (int id = 0; id < pieces.Length; id++)
        {
            types[id] = IsBytePiece(pieces[id]) ? PieceType.Byte : PieceType.Normal;
        }

        foreach (var (content, (id, special)) in added)
        {
            if (id >= 0 && id < pieces.Length && pieces[id] == content)
            {
                types[id] = special ? PieceType.Control : PieceType.UserDefined;
            }
        }

        foreach (int id in (ReadOnlySpan<int>)[bosId, eosId, padId])
        {
            if (id >= 0)
            {
                types[id] = PieceType.Control;
            }
        }

        types[unkId] = PieceType.Unknown;

        // Below every merged piece (those score 0 down to -(merges - 1)).
        float unmergedScore = (scores.Count == 0 ? 0f : scores.Values.Min()) - 1f;
        using var buffer = new MemoryStream();
        var output = new CodedOutputStream(buffer);
        for (int id = 0; id < pieces.Length; id++)
        {
            float score = types[id] == PieceType.Normal && scores.TryGetValue(id, out float s) ? s : unmergedScore;
            WritePiece(output, pieces[id], score, types[id]);
        }

        WriteMessage(output, TrainerSpecField, o =>
        {
            WriteVarint(o, ModelTypeField, ModelTypeBpe);
            WriteVarint(o, VocabSizeField, pieces.Length);
            o.WriteTag(ByteFallbackField, WireFormat.WireType.Varint);
            o.WriteBool(true);
            WriteVarint(o, UnkIdField, unkId);
            WriteVarint(o, BosIdField, bosId);
            WriteVarint(o, EosIdField, eosId);
            WriteVarint(o, PadIdField, padId);
        });
        bool prefix = AddsDummyPrefix(root);
        WriteMessage(output, NormalizerSpecField, o =>
        {
            o.WriteTag(NormalizerNameField, WireFormat.WireType.LengthDelimited);
            o.WriteString("identity");
            o.WriteTag(AddDummyPrefixField, WireFormat.WireType.Varint);
            o.WriteBool(prefix);
            o.WriteTag(RemoveExtraWhitespacesField, WireFormat.WireType.Varint);
            o.WriteBool(false);
            o.WriteTag(EscapeWhitespacesField, WireFormat.WireType.Varint);
            o.WriteBool(true);
        });
        output.Flush();
        return buffer.ToArray();
    }

    /// <summary>
    /// Whether a "▁" is put before the text: a normalizer step <c>Prepend "▁"</c> (Llama 2), or a Metaspace
    /// pre-tokenizer with <c>prepend_scheme</c> "first"/"always" or, in older files, <c>add_prefix_space</c> true.
    /// </summary>
    internal static bool AddsDummyPrefix(JsonElement root)
    {
        if (root.TryGetProperty("normalizer", out var normalizer) && normalizer.ValueKind == JsonValueKind.Object)
        {
            foreach (var step in Steps(normalizer, "normalizers"))
            {
                if (TypeOf(step) == "Prepend" && step.TryGetProperty("prepend", out var p) && p.GetString() == SpaceSymbol.ToString())
                {
                    return true;
                }
            }
        }

        if (root.TryGetProperty("pre_tokenizer", out var pre) && pre.ValueKind == JsonValueKind.Object)
        {
            foreach (var step in Steps(pre, "pretokenizers"))
            {
                if (TypeOf(step) != "Metaspace")
                {
                    continue;
                }

                if (step.TryGetProperty("prepend_scheme", out var scheme) && scheme.ValueKind == JsonValueKind.String)
                {
                    return scheme.GetString() is "first" or "always";
                }

                return step.TryGetProperty("add_prefix_space", out var add) && add.ValueKind == JsonValueKind.True;
            }
        }

        return false;
    }

    // tokenizer.json's added_tokens, then tokenizer_config.json's (the same tokens in practice; the json file wins).
    private static Dictionary<string, (int Id, bool Special)> AddedTokens(JsonElement root, TokenizerConfig config)
    {
        var added = new Dictionary<string, (int Id, bool Special)>(StringComparer.Ordinal);
        if (root.TryGetProperty("added_tokens", out var list) && list.ValueKind == JsonValueKind.Array)
        {
            foreach (var token in list.EnumerateArray())
            {
                bool special = token.TryGetProperty("special", out var s) && s.ValueKind == JsonValueKind.True;
                added[token.GetProperty("content").GetString()!] = (token.GetProperty("id").GetInt32(), special);
            }
        }

        foreach (var (content, entry) in config.AddedTokens)
        {
            added.TryAdd(content, entry);
        }

        return added;
    }

    // SentencePiece ids are positions in the piece list, so the vocabulary must cover 0..N-1 once each.
    private static string[] PiecesById(JsonElement model, string path)
    {
        var vocab = model.GetProperty("vocab");
        var pieces = new string[vocab.EnumerateObject().Count()];
        foreach (var entry in vocab.EnumerateObject())
        {
            int id = entry.Value.GetInt32();
            if (id < 0 || id >= pieces.Length || pieces[id] is not null)
            {
                throw new ModelFolderException(
                    $"tokenizer.json's model.vocab must number its {pieces.Length} pieces 0..{pieces.Length - 1} once each; '{entry.Name}' has id {id}.")
                { FilePath = path };
            }

            pieces[id] = entry.Name;
        }

        return pieces;
    }

    // Piece id -> score: the first merge that makes a piece gives it -rank.
    private static Dictionary<int, float> MergeScores(JsonElement model, Dictionary<string, int> idOf, string path)
    {
        var scores = new Dictionary<int, float>();
        int rank = 0;
        foreach (var merge in model.GetProperty("merges").EnumerateArray())
        {
            string left, right;
            if (merge.ValueKind == JsonValueKind.Array)
            {
                left = merge[0].GetString()!;
                right = merge[1].GetString()!;
            }
            else
            {
                // "a b": pieces never contain a plain space (it is written "▁"), so the first space separates them.
                string text = merge.GetString()!;
                int space = text.IndexOf(' ', StringComparison.Ordinal);
                if (space <= 0)
                {
                    throw new ModelFolderException($"tokenizer.json's model.merges[{rank}] '{text}' is not two pieces separated by a space.") { FilePath = path };
                }

                left = text[..space];
                right = text[(space + 1)..];
            }

            if (!idOf.TryGetValue(left + right, out int id))
            {
                throw new ModelFolderException($"tokenizer.json's model.merges[{rank}] makes '{left + right}', which is not in model.vocab.") { FilePath = path };
            }

            scores.TryAdd(id, -rank);
            rank++;
        }

        return scores;
    }

    private static void WritePiece(CodedOutputStream output, string piece, float score, int type)
    {
        int size = CodedOutputStream.ComputeTagSize(PieceField) + CodedOutputStream.ComputeStringSize(piece)
            + CodedOutputStream.ComputeTagSize(ScoreField) + CodedOutputStream.ComputeFloatSize(score)
            + CodedOutputStream.ComputeTagSize(TypeField) + CodedOutputStream.ComputeEnumSize(type);
        output.WriteTag(PiecesField, WireFormat.WireType.LengthDelimited);
        output.WriteLength(size);
        output.WriteTag(PieceField, WireFormat.WireType.LengthDelimited);
        output.WriteString(piece);
        output.WriteTag(ScoreField, WireFormat.WireType.Fixed32);
        output.WriteFloat(score);
        output.WriteTag(TypeField, WireFormat.WireType.Varint);
        output.WriteEnum(type);
    }

    // A small nested message: written to its own buffer first so its length can prefix it.
    private static void WriteMessage(CodedOutputStream output, int field, Action<CodedOutputStream> write)
    {
        using var buffer = new MemoryStream();
        var inner = new CodedOutputStream(buffer);
        write(inner);
        inner.Flush();
        output.WriteTag(field, WireFormat.WireType.LengthDelimited);
        output.WriteBytes(ByteString.CopyFrom(buffer.ToArray()));
    }

    private static void WriteVarint(CodedOutputStream output, int field, int value)
    {
        output.WriteTag(field, WireFormat.WireType.Varint);
        output.WriteInt32(value);
    }

    private static int IdOrNone(Dictionary<string, int> idOf, string piece) => idOf.TryGetValue(piece, out int id) ? id : -1;

    // "<0xNN>" with two upper-case hex digits, as SentencePiece names its byte pieces.
    private static bool IsBytePiece(string piece) =>
        piece.Length == 6 && piece.StartsWith("<0x", StringComparison.Ordinal) && piece[5] == '>'
        && char.IsAsciiHexDigitUpper(piece[3]) && char.IsAsciiHexDigitUpper(piece[4]);

    private static string? TypeOf(JsonElement step) => step.TryGetProperty("type", out var t) ? t.GetString() : null;

    private static IEnumerable<JsonElement> Steps(JsonElement element, string listName)
    {
        if (element.TryGetProperty(listName, out var list) && list.ValueKind == JsonValueKind.Array)
        {
            foreach (var item in list.EnumerateArray())
            {
                if (item.ValueKind == JsonValueKind.Object)
                {
                    yield return item;
                }
            }
        }
        else
        {
            yield return element;
        }
    }

    // sentencepiece_model.proto, ModelProto.SentencePiece.Type.
    private static class PieceType
    {
        public const int Normal = 1;
        public const int Unknown = 2;
        public const int Control = 3;
        public const int UserDefined = 4;
        public const int Byte = 6;
    }
}
