using System.Text;
using System.Text.Json.Nodes;
using FsCheck;
using FsCheck.Fluent;
using LlmKit.Models;
using LlmKit.Testing;
using LlmKit.Tokenization;

namespace LlmKit.Tests.Tokenization;

public sealed class ModelTokenizerTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "llmkit-tokenizer-tests", Guid.NewGuid().ToString("N"));

    public ModelTokenizerTests() => Directory.CreateDirectory(_folder);

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static ModelTokenizer Stories => LoadedModels.Stories260K.Tokenizer;

    [Fact]
    public void SentencePiece_streaming_decode_of_encode_round_trips_as_a_property()
    {
        // Any string the tokenizer can represent: byte fallback covers every Unicode scalar. Lone surrogates
        // are not text (UTF-8 cannot carry them), so the generator sticks to valid strings.
        var strings = ArbMap.Default.GeneratorFor<string>()
            .Where(s => s is not null && !s.Any(char.IsSurrogate) && !s.Contains('\0'));
        Prop.ForAll(strings.ToArbitrary(), text =>
        {
            int[] ids = Stories.Encode(text);
            var detokenizer = Stories.CreateDetokenizer(isSequenceStart: true);
            var streamed = new StringBuilder();
            foreach (int id in ids)
            {
                streamed.Append(detokenizer.Append(id));
            }

            streamed.Append(detokenizer.Flush());
            return streamed.ToString() == text && Stories.Decode(ids) == text;
        }).QuickCheckThrowOnFailure();
    }

    [Theory]
    [InlineData("Hello, world!\nNew line.")]
    [InlineData("café naïve — “quotes”")]
    [InlineData("emoji 🙂 and CJK 你好")]
    public void SentencePiece_round_trips_mixed_scripts(string text)
    {
        Assert.Equal(text, Stories.Decode(Stories.Encode(text)));
        Assert.Equal(Stories.BosTokenId, Stories.Encode(text)[0]);
        Assert.NotEqual(Stories.BosTokenId, Stories.Encode(text, addBos: false)[0]);
    }

    [Fact]
    public void Byte_level_bpe_tokenizer_json_loads_encodes_with_merges_and_decodes_streaming()
    {
        // A GPT-2-style vocabulary: the 256 byte characters, then merges h+e, l+l, he+ll, hell+o, Ġ+w.
        // 'Ġ' (U+0120) is the byte-level character of the space byte 0x20.
        var alphabet = ByteLevelAlphabet.CharToByte.OrderBy(kv => kv.Value).Select(kv => kv.Key.ToString()).ToList();
        var vocab = new JsonObject();
        for (int i = 0; i < alphabet.Count; i++)
        {
            vocab[alphabet[i]] = i;
        }

        string[] merged = ["he", "ll", "hell", "hello", "\u0120w"];
        for (int i = 0; i < merged.Length; i++)
        {
            vocab[merged[i]] = 256 + i;
        }

        var json = new JsonObject
        {
            ["added_tokens"] = new JsonArray(new JsonObject { ["id"] = 261, ["content"] = "<|endoftext|>", ["special"] = true }),
            ["pre_tokenizer"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["use_regex"] = true },
            ["model"] = new JsonObject
            {
                ["type"] = "BPE",
                ["vocab"] = vocab,
                ["merges"] = new JsonArray("h e", "l l", "he ll", "hell o", "\u0120 w"),
            },
        };
        File.WriteAllText(Path.Combine(_folder, "tokenizer.json"), json.ToJsonString());
        var config = new GenAIConfig();
        config.Model.VocabSize = 262;
        config.Model.BosTokenId = -1;
        config.Model.EosTokenIds = [261];

        var tokenizer = ModelTokenizer.Load(_folder, config);

        // "hello world<|endoftext|>": hello -> 259; " w" -> 260; o r l d are single bytes; the special token is whole.
        int[] ids = tokenizer.Encode("hello world<|endoftext|>");
        int Byte(char c) => ByteLevelAlphabet.CharToByte[c];
        Assert.Equal([259, 260, Byte('o'), Byte('r'), Byte('l'), Byte('d'), 261], ids);
        Assert.Equal("bpe-byte-level", tokenizer.Kind);
        Assert.False(tokenizer.AddBos);

        // Special tokens decode to nothing; multi-byte characters come out whole.
        Assert.Equal("hello world", tokenizer.Decode(ids));
        string text = "é€🙂";
        Assert.Equal(text, tokenizer.Decode(tokenizer.Encode(text)));
    }

    [Fact]
    public void A_sentencepiece_style_tokenizer_json_with_an_empty_vocabulary_is_rejected_with_advice()
    {
        var json = new JsonObject { ["model"] = new JsonObject { ["type"] = "BPE", ["byte_fallback"] = true, ["vocab"] = new JsonObject(), ["merges"] = new JsonArray() } };
        File.WriteAllText(Path.Combine(_folder, "tokenizer.json"), json.ToJsonString());
        var ex = Assert.Throws<ModelFolderException>(() => ModelTokenizer.Load(_folder, new GenAIConfig()));
        Assert.Contains("tokenizer.model", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Tokenizer_config_added_tokens_and_chat_template_are_read()
    {
        var config = new JsonObject
        {
            ["add_bos_token"] = false,
            ["bos_token"] = new JsonObject { ["content"] = "<s>" },
            ["eos_token"] = "</s>",
            ["chat_template"] = "{{ messages }}",
            ["added_tokens_decoder"] = new JsonObject { ["32000"] = new JsonObject { ["content"] = "<|user|>", ["special"] = true } },
        };
        File.WriteAllText(Path.Combine(_folder, TokenizerConfig.FileName), config.ToJsonString());

        var read = TokenizerConfig.Read(_folder);

        Assert.False(read.AddBosToken);
        Assert.Equal("<s>", read.BosToken);
        Assert.Equal("</s>", read.EosToken);
        Assert.Equal("{{ messages }}", read.ChatTemplate);
        Assert.Equal((32000, true), read.AddedTokens["<|user|>"]);
    }
}
