using LlmKit.Models;
using Microsoft.ML.Tokenizers;

namespace LlmKit.Tokenization;

/// <summary>
/// A model folder's tokenizer: encoding with the model's BOS convention and special tokens, full and
/// incremental decoding. Wraps a Microsoft.ML.Tokenizers <see cref="Tokenizer"/>, exposed as <see cref="Inner"/>
/// for token counting by plugins.
/// </summary>
/// <remarks>Thread-safe: encoding and decoding hold no shared mutable state.</remarks>
public sealed class ModelTokenizer
{
    private readonly TokenByteTable _bytes;
    private readonly bool _stripLeadingSpace;
    private readonly Lazy<Generation.Constraints.TokenTrie> _trie;

    private ModelTokenizer(Tokenizer inner, TokenByteTable bytes, TokenizerConfig config, int bosTokenId, int[] eosTokenIds, bool addBos, bool stripLeadingSpace, string kind)
    {
        Inner = inner;
        _bytes = bytes;
        _trie = new Lazy<Generation.Constraints.TokenTrie>(() => Generation.Constraints.TokenTrie.Build(bytes));
        Config = config;
        BosTokenId = bosTokenId;
        EosTokenIds = eosTokenIds;
        AddBos = addBos;
        _stripLeadingSpace = stripLeadingSpace;
        Kind = kind;
    }

    /// <summary>The underlying Microsoft.ML.Tokenizers tokenizer (encodes without BOS).</summary>
    public Tokenizer Inner { get; }

    /// <summary>The folder's <c>tokenizer_config.json</c> (empty when absent).</summary>
    public TokenizerConfig Config { get; }

    /// <summary>Beginning-of-sequence id, or -1 when the model has none.</summary>
    public int BosTokenId { get; }

    /// <summary>End-of-sequence ids from <c>genai_config.json</c>.</summary>
    public IReadOnlyList<int> EosTokenIds { get; }

    /// <summary>Whether prompts start with <see cref="BosTokenId"/>.</summary>
    public bool AddBos { get; }

    /// <summary>Which tokenizer was loaded: <c>sentencepiece</c> (tokenizer.model), <c>sentencepiece-json</c> (a SentencePiece-style
    /// BPE tokenizer.json with byte fallback) or <c>bpe-byte-level</c> (a byte-level BPE tokenizer.json).</summary>
    public string Kind { get; }

    /// <summary>The tokens as a byte trie for constrained decoding; built on first use, then shared.</summary>
    internal Generation.Constraints.TokenTrie TokenTrie => _trie.Value;

    /// <summary>The UTF-8 bytes token <paramref name="id"/> stands for (empty for special tokens and ids outside the table).</summary>
    internal ReadOnlySpan<byte> TokenBytes(int id) => _bytes[id];

    /// <summary>Number of token ids the byte table covers (the model's vocabulary size).</summary>
    public int VocabularySize => _bytes.Count;

    /// <summary>Encodes a prompt: BOS first when the model uses it, special-token text mapped to its ids.</summary>
    /// <param name="text">The text to encode.</param>
    /// <param name="addBos">Override for BOS; null follows the model folder's convention.</param>
    public int[] Encode(string text, bool? addBos = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = Inner.EncodeToIds(text);
        bool bos = (addBos ?? AddBos) && BosTokenId >= 0;
        var result = new int[ids.Count + (bos ? 1 : 0)];
        int offset = 0;
        if (bos)
        {
            result[0] = BosTokenId;
            offset = 1;
        }

        for (int i = 0; i < ids.Count; i++)
        {
            result[offset + i] = ids[i];
        }

        return result;
    }

    /// <summary>Counts the tokens of a text (without BOS).</summary>
    public int CountTokens(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return Inner.CountTokens(text);
    }

    /// <summary>Decodes a whole sequence (special tokens are skipped; a leading dummy-prefix space is removed).</summary>
    public string Decode(ReadOnlySpan<int> ids)
    {
        var detokenizer = CreateDetokenizer(isSequenceStart: true);
        var builder = new System.Text.StringBuilder();
        foreach (int id in ids)
        {
            builder.Append(detokenizer.Append(id));
        }

        builder.Append(detokenizer.Flush());
        return builder.ToString();
    }

    /// <summary>Creates a streaming decoder.</summary>
    /// <param name="isSequenceStart">True when the first token decoded starts the text (its SentencePiece dummy-prefix space is removed);
    /// false when continuing after a prompt (spaces are kept).</param>
    public IncrementalDetokenizer CreateDetokenizer(bool isSequenceStart) => new(_bytes, isSequenceStart && _stripLeadingSpace);

    /// <summary>Loads the tokenizer of a model folder: <c>tokenizer.model</c> (SentencePiece) when present, else <c>tokenizer.json</c>.</summary>
    /// <exception cref="ModelFolderException">No supported tokenizer file, or it cannot be read.</exception>
    public static ModelTokenizer Load(string folder, GenAIConfig config)
    {
        ArgumentNullException.ThrowIfNull(folder);
        ArgumentNullException.ThrowIfNull(config);
        var tokenizerConfig = TokenizerConfig.Read(folder);
        string spModel = Path.Combine(folder, "tokenizer.model");
        string hfJson = Path.Combine(folder, "tokenizer.json");
        if (File.Exists(spModel))
        {
            using var stream = OpenSentencePiece(spModel);
            return LoadSentencePiece(stream, spModel, config, tokenizerConfig, tokenizerConfig.AddedTokens, "sentencepiece");
        }

        if (File.Exists(hfJson))
        {
            return HuggingFaceTokenizerJson.Load(hfJson, config, tokenizerConfig);
        }

        throw new ModelFolderException(
            $"The model folder '{folder}' has no tokenizer: expected tokenizer.model (SentencePiece) or tokenizer.json (Hugging Face).")
        { FilePath = folder };
    }

    /// <summary>Assembles a tokenizer from a loaded inner tokenizer and the folder's conventions.</summary>
    /// <param name="inner">The Microsoft.ML.Tokenizers tokenizer (encodes without BOS).</param>
    /// <param name="bytes">The byte table for streaming decode.</param>
    /// <param name="config">The folder's tokenizer_config.json.</param>
    /// <param name="genai">The folder's genai_config.json (BOS fallback, EOS ids).</param>
    /// <param name="stripLeadingSpace">Whether decoding from a sequence start drops the dummy-prefix space.</param>
    /// <param name="kind">The value of <see cref="Kind"/>.</param>
    /// <param name="vocabulary">Token text to id, added tokens included: resolves tokenizer_config.json's <c>bos_token</c>.</param>
    /// <param name="fromTokenizerJson">
    /// True for a tokenizer.json folder: prompts get no BOS by default, as onnxruntime-genai 0.20.0's Tokenizer encodes
    /// them (checked on its own Llama test folder, whose tokenizer_config.json says add_bos_token true); chat templates
    /// write the BOS text themselves. A tokenizer.model folder follows add_bos_token (default true), as SentencePiece does.
    /// </param>
    internal static ModelTokenizer Create(Tokenizer inner, TokenByteTable bytes, TokenizerConfig config, GenAIConfig genai, IReadOnlyDictionary<string, int> vocabulary, bool fromTokenizerJson, bool stripLeadingSpace, string kind)
    {
        // The tokenizer's own bos_token names the id its templates mean; genai_config's is the fallback (the official
        // Llama test folder says 0 there, which is <unk> in its vocabulary).
        int bos = config.BosToken is { } text && vocabulary.TryGetValue(text, out int id) ? id : genai.Model.BosTokenId;
        bool addBos = !fromTokenizerJson && (config.AddBosToken ?? true) && bos >= 0;
        return new ModelTokenizer(inner, bytes, config, bos, genai.Model.EosTokenIds, addBos, stripLeadingSpace, kind);
    }

    private static FileStream OpenSentencePiece(string path)
    {
        try
        {
            return File.OpenRead(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new ModelFolderException($"tokenizer.model could not be opened: {ex.Message}", ex) { FilePath = path };
        }
    }

    /// <summary>Loads a SentencePiece ModelProto from <paramref name="model"/> (a tokenizer.model file, or one converted from tokenizer.json).</summary>
    /// <param name="model">The serialized ModelProto.</param>
    /// <param name="path">The file it came from, for error messages.</param>
    /// <param name="genai">The folder's genai_config.json.</param>
    /// <param name="config">The folder's tokenizer_config.json.</param>
    /// <param name="addedTokens">Tokens matched as whole units before SentencePiece runs, and whether each is special (skipped in decoding).</param>
    /// <param name="kind">The value of <see cref="Kind"/>.</param>
    internal static ModelTokenizer LoadSentencePiece(Stream model, string path, GenAIConfig genai, TokenizerConfig config, IReadOnlyDictionary<string, (int Id, bool Special)> addedTokens, string kind)
    {
        SentencePieceTokenizer inner;
        try
        {
            // Added tokens (e.g. <|user|> in Phi-3) are matched as whole special tokens before SentencePiece runs.
            var special = addedTokens.Count == 0
                ? null
                : addedTokens.ToDictionary(kv => kv.Key, kv => kv.Value.Id, StringComparer.Ordinal);
            inner = LlamaTokenizer.Create(model, addBeginOfSentence: false, addEndOfSentence: false, specialTokens: special);
        }
        catch (Exception ex) when (ex is InvalidDataException or ArgumentException or InvalidOperationException or Google.Protobuf.InvalidProtocolBufferException or IOException)
        {
            throw new ModelFolderException($"{Path.GetFileName(path)} could not be read as a SentencePiece model: {ex.Message}", ex) { FilePath = path };
        }

        int size = Math.Max(genai.Model.VocabSize, inner.Vocabulary.Count);
        var specialIds = new HashSet<int>();
        AddIfValid(specialIds, genai.Model.BosTokenId);
        foreach (int eos in genai.Model.EosTokenIds)
        {
            AddIfValid(specialIds, eos);
        }

        foreach (var pad in genai.Model.PadTokenIds)
        {
            AddIfValid(specialIds, pad);
        }

        if (inner.Vocabulary.TryGetValue("<unk>", out int unk))
        {
            specialIds.Add(unk);
        }

        foreach (var (_, (id, isSpecial)) in addedTokens)
        {
            if (isSpecial)
            {
                specialIds.Add(id);
            }
        }

        var vocabulary = inner.Vocabulary.Concat(addedTokens.Select(kv => new KeyValuePair<string, int>(kv.Key, kv.Value.Id)));
        var bytes = TokenByteTable.ForSentencePiece(vocabulary, size, specialIds);
        var lookup = new Dictionary<string, int>(inner.Vocabulary, StringComparer.Ordinal);
        foreach (var (text, (id, _)) in addedTokens)
        {
            lookup[text] = id;
        }

        return Create(inner, bytes, config, genai, lookup, fromTokenizerJson: kind != "sentencepiece", stripLeadingSpace: inner.AddDummyPrefix, kind);
    }

    private static void AddIfValid(HashSet<int> set, int id)
    {
        if (id >= 0)
        {
            set.Add(id);
        }
    }
}
