using System.Text.Json.Nodes;
using FsCheck;
using FsCheck.Fluent;
using LlmKit.ModelBuilder;
using LlmKit.Models;
using LlmKit.Testing;
using LlmKit.Tokenization;

namespace LlmKit.Tests.Tokenization;

/// <summary>
/// A SentencePiece-style tokenizer.json (BPE with byte_fallback, as Hugging Face's slow-to-fast converter writes
/// for Llama 2) built from the real stories260K tokenizer must encode and decode exactly like that tokenizer
/// loaded from its tokenizer.model.
/// </summary>
public sealed class SentencePieceTokenizerJsonTests : IDisposable
{
    private const char Space = '\u2581';
    private const int VocabSize = 512;

    private readonly string _folder = Path.Combine(Path.GetTempPath(), "llmkit-spjson-tests", Guid.NewGuid().ToString("N"));

    public SentencePieceTokenizerJsonTests() => Directory.CreateDirectory(_folder);

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static ModelTokenizer Reference => LoadedModels.Stories260K.Tokenizer;

    private static readonly Lazy<ModelTokenizer> FromJson = new(() =>
    {
        string folder = Path.Combine(Path.GetTempPath(), "llmkit-spjson-tests", "shared-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            return Load(folder, Llama2TokenizerJson());
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    });

    [Fact]
    public void Loads_as_sentencepiece_json_with_the_bos_id_and_no_bos_on_plain_text()
    {
        var tokenizer = FromJson.Value;

        Assert.Equal("sentencepiece-json", tokenizer.Kind);
        Assert.False(tokenizer.AddBos); // as onnxruntime-genai's Tokenizer encodes tokenizer.json folders (see the oracle tests)
        Assert.Equal(Reference.BosTokenId, tokenizer.BosTokenId);
        Assert.Equal(Reference.VocabularySize, tokenizer.VocabularySize);
    }

    [Theory]
    [InlineData("Once upon a time, there was a little girl named Lily.")]
    [InlineData("Hello, world! (yes) -- \"quoted\"; 3.14 & 100%?")]
    [InlineData("First line.\nSecond line.\n\nAfter a blank line.\tTabbed.")]
    [InlineData("café naïve — “quotes” Ångström")]
    [InlineData("emoji 🙂🚀 and a family 👨‍👩‍👧")]
    [InlineData("CJK 你好世界, kana こんにちは, Hangul 안녕")]
    [InlineData("  two leading spaces and   three inside ")]
    [InlineData("")]
    public void Encodes_and_decodes_like_the_tokenizer_model(string text)
    {
        var tokenizer = FromJson.Value;

        // tokenizer.json folders add no BOS to plain text (onnxruntime-genai's convention); tokenizer.model ones do.
        int[] expected = Reference.Encode(text, addBos: false);
        int[] actual = tokenizer.Encode(text);

        Assert.Equal(expected, actual);
        Assert.Equal(Reference.Decode(expected), tokenizer.Decode(actual));
        Assert.Equal(text, tokenizer.Decode(actual));
    }

    [Fact]
    public void Story_text_uses_merged_pieces_not_just_characters()
    {
        // Without merges every character would be a token. Measured: 105 tokens for the 263 characters
        // (2.5 characters a token), so "fewer than half as many tokens as characters" has margin yet fails if
        // merging stopped after the first step or two.
        int[] ids = FromJson.Value.Encode(SharedFixtures.Stories260KReferenceText, addBos: false);
        Assert.True(ids.Length < SharedFixtures.Stories260KReferenceText.Length / 2, $"{ids.Length} tokens for {SharedFixtures.Stories260KReferenceText.Length} chars");
        Assert.Equal(Reference.Encode(SharedFixtures.Stories260KReferenceText, addBos: false), ids);
    }

    [Fact]
    public void Random_strings_encode_and_decode_like_the_tokenizer_model_as_a_property()
    {
        var tokenizer = FromJson.Value;

        // Mostly words from the model's own stories (so multi-step merges fire), mixed with arbitrary BMP and
        // astral characters (byte fallback). Lone surrogates are not text, so the generator never makes them.
        string[] words = SharedFixtures.Stories260KReferenceText.Split([' ', '\n'], StringSplitOptions.RemoveEmptyEntries);
        Gen<string> word = Gen.Elements(words);
        Gen<string> separator = Gen.Elements(" ", " ", " ", "  ", "\n", ", ", ". ");
        Gen<string> bmp = Gen.Choose(0x20, 0xD7FF).Select(c => ((char)c).ToString());
        Gen<string> astral = Gen.Choose(0x10000, 0x10FFFF).Select(char.ConvertFromUtf32);
        Gen<string> part = Gen.Frequency((6, word), (4, separator), (2, bmp), (1, astral));
        var texts = Gen.ListOf(part).Select(parts => string.Concat(parts)).ToArbitrary();

        Prop.ForAll(texts, text =>
        {
            int[] ids = tokenizer.Encode(text);
            return ids.AsSpan().SequenceEqual(Reference.Encode(text, addBos: false)) && tokenizer.Decode(ids) == text;
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void Metaspace_pre_tokenizer_with_prepend_scheme_first_encodes_like_the_llama2_normalizer()
    {
        var json = Llama2TokenizerJson();
        json["normalizer"] = null;
        json["pre_tokenizer"] = new JsonObject { ["type"] = "Metaspace", ["replacement"] = Space.ToString(), ["prepend_scheme"] = "first", ["split"] = false };

        var tokenizer = Load(_folder, json);

        foreach (string text in new[] { "Once upon a time", "a dog, and\na cat", "日本 🙂" })
        {
            Assert.Equal(Reference.Encode(text, addBos: false), tokenizer.Encode(text));
            Assert.Equal(text, tokenizer.Decode(tokenizer.Encode(text)));
        }
    }

    [Fact]
    public void Without_a_prepended_space_the_text_is_encoded_as_written()
    {
        // No Prepend step and Metaspace "never": no dummy prefix. The reference adds "▁" in front, so encoding
        // " " + text without the prefix must give the reference's ids for text.
        var json = Llama2TokenizerJson();
        json["normalizer"] = new JsonObject { ["type"] = "Replace", ["pattern"] = new JsonObject { ["String"] = " " }, ["content"] = Space.ToString() };
        json["pre_tokenizer"] = new JsonObject { ["type"] = "Metaspace", ["replacement"] = Space.ToString(), ["prepend_scheme"] = "never", ["split"] = false };

        var tokenizer = Load(_folder, json);

        foreach (string text in new[] { "Once upon a time", "The cat sat.", "ok 🙂" })
        {
            Assert.Equal(Reference.Encode(text, addBos: false), tokenizer.Encode(" " + text, addBos: false));
            Assert.Equal(text, tokenizer.Decode(tokenizer.Encode(text)));
        }
    }

    [Fact]
    public void Added_tokens_beyond_the_vocabulary_are_matched_whole_and_skipped_in_decoding()
    {
        var json = Llama2TokenizerJson();
        json["added_tokens"]!.AsArray().Add(new JsonObject { ["id"] = VocabSize, ["content"] = "<|user|>", ["special"] = true });

        var tokenizer = Load(_folder, json, vocabSize: VocabSize + 1);

        int[] ids = tokenizer.Encode("<|user|>Once upon a time", addBos: false);
        Assert.Equal(VocabSize, ids[0]);
        Assert.Equal("Once upon a time", tokenizer.Decode(ids.AsSpan(1)));
        Assert.Equal("Once upon a time", tokenizer.Decode(ids).TrimStart());
    }

    [Fact]
    public void A_vocabulary_without_the_unknown_piece_is_rejected_naming_it()
    {
        var json = Llama2TokenizerJson();
        json["model"]!["unk_token"] = "<missing>";

        var ex = Assert.Throws<ModelFolderException>(() => Load(_folder, json));

        Assert.Contains("'<missing>'", ex.Message, StringComparison.Ordinal);
        Assert.EndsWith("tokenizer.json", ex.FilePath, StringComparison.Ordinal);
    }

    [Fact]
    public void A_merge_that_makes_a_piece_outside_the_vocabulary_is_rejected_naming_it()
    {
        var json = Llama2TokenizerJson();
        var merges = json["model"]!["merges"]!.AsArray();
        merges.Add("zq qz");

        var ex = Assert.Throws<ModelFolderException>(() => Load(_folder, json));

        Assert.Contains($"merges[{merges.Count - 1}]", ex.Message, StringComparison.Ordinal);
        Assert.Contains("'zqqz'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_vocabulary_with_a_gap_in_its_ids_is_rejected()
    {
        var json = Llama2TokenizerJson();
        var vocab = json["model"]!["vocab"]!.AsObject();
        string last = vocab.Last().Key;
        vocab[last] = VocabSize + 7;

        var ex = Assert.Throws<ModelFolderException>(() => Load(_folder, json));

        Assert.Contains($"id {VocabSize + 7}", ex.Message, StringComparison.Ordinal);
    }

    private static ModelTokenizer Load(string folder, JsonObject json, int vocabSize = VocabSize)
    {
        File.WriteAllText(Path.Combine(folder, "tokenizer.json"), json.ToJsonString());
        var config = new GenAIConfig();
        config.Model.VocabSize = vocabSize;
        config.Model.BosTokenId = Llama2cTokenizerFile.BosId;
        config.Model.EosTokenIds = [Llama2cTokenizerFile.EosId];
        return ModelTokenizer.Load(folder, config);
    }

    /// <summary>
    /// The tokenizer.json Hugging Face's slow-to-fast converter writes for a Llama 2 SentencePiece model, made from
    /// stories260K: vocab = the SentencePiece pieces by id; merges = for each piece, by descending score, every
    /// split into two vocabulary pieces; byte_fallback; the Llama 2 normalizer (Prepend "▁", Replace " " → "▁").
    /// </summary>
    private static JsonObject Llama2TokenizerJson()
    {
        var sentencePiece = (Microsoft.ML.Tokenizers.SentencePieceTokenizer)Reference.Inner;
        var scores = Llama2cTokenizerFile.Load(SharedFixtures.Stories260KTokenizer, VocabSize).Scores;
        var pieces = new string[sentencePiece.Vocabulary.Count];
        foreach (var (piece, id) in sentencePiece.Vocabulary)
        {
            pieces[id] = piece;
        }

        Assert.Equal(VocabSize, pieces.Length);
        var vocab = new JsonObject();
        for (int id = 0; id < pieces.Length; id++)
        {
            vocab[pieces[id]] = id;
        }

        var merges = new JsonArray();
        var byScore = Enumerable.Range(0, pieces.Length)
            .Where(id => id > Llama2cTokenizerFile.EosId && !Llama2cTokenizerFile.IsByteId(id))
            .OrderByDescending(id => scores[id]).ThenBy(id => id);
        foreach (int id in byScore)
        {
            string piece = pieces[id];
            var splits = new List<(int Left, int Right)>();
            for (int k = 1; k < piece.Length; k++)
            {
                if (sentencePiece.Vocabulary.TryGetValue(piece[..k], out int left) && sentencePiece.Vocabulary.TryGetValue(piece[k..], out int right))
                {
                    splits.Add((left, right));
                }
            }

            foreach (var (left, right) in splits.OrderBy(s => s.Left).ThenBy(s => s.Right))
            {
                merges.Add($"{pieces[left]} {pieces[right]}");
            }
        }

        var addedTokens = new JsonArray();
        foreach (int id in (int[])[Llama2cTokenizerFile.UnknownId, Llama2cTokenizerFile.BosId, Llama2cTokenizerFile.EosId])
        {
            addedTokens.Add(new JsonObject { ["id"] = id, ["content"] = pieces[id], ["special"] = true, ["normalized"] = false });
        }

        return new JsonObject
        {
            ["version"] = "1.0",
            ["added_tokens"] = addedTokens,
            ["normalizer"] = new JsonObject
            {
                ["type"] = "Sequence",
                ["normalizers"] = new JsonArray(
                    new JsonObject { ["type"] = "Prepend", ["prepend"] = Space.ToString() },
                    new JsonObject { ["type"] = "Replace", ["pattern"] = new JsonObject { ["String"] = " " }, ["content"] = Space.ToString() }),
            },
            ["pre_tokenizer"] = null,
            ["model"] = new JsonObject
            {
                ["type"] = "BPE",
                ["dropout"] = null,
                ["unk_token"] = "<unk>",
                ["fuse_unk"] = true,
                ["byte_fallback"] = true,
                ["vocab"] = vocab,
                ["merges"] = merges,
            },
        };
    }
}
