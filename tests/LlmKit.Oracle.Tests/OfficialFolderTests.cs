using LlmKit.Models;
using LlmKit.Testing;

namespace LlmKit.Oracle.Tests;

/// <summary>
/// Folders LlmKit did not make: onnxruntime-genai's own test models (GPT-2 with int32 inputs and combined KV
/// tensors; an fp16 Llama from the official builder). LlmKit must load them unchanged and agree with the official
/// runtime run beside it on ids, logits and tokenization.
/// </summary>
public class OfficialFolderTests
{
    // Tolerances for first-step logits. Both runtimes run the same graph on the same ONNX Runtime build, so the
    // expected difference is 0; the bounds only allow for a different kernel choice. fp32: 1e-4 is ~100 ulps at the
    // magnitudes seen (|logit| < 10). fp16 logits carry 11 significant bits: at |logit| < 8 one ulp is <= 2^-8 = 0.0039,
    // so 1e-2 allows about two ulps.
    private const float Fp32Tolerance = 1e-4f;
    private const float Fp16Tolerance = 1e-2f;

    // Spaces (runs of them), newlines, tabs, digits, accents, emoji and CJK.
    private const string TokenizerSample = "Hello world.  Two  spaces,\nnew line\tand tab; 12345 67.8 café naïve Ångström 🙂🚀 日本語 你好 안녕 — done";

    public static TheoryData<string, int[], int> ReadmeRows => new()
    {
        // From ../shared/models/onnxruntime-genai-tests/README.md: prompt ids and max_length; the test runs the official
        // runtime live for the expected ids and checks it still reproduces the README's published row.
        { "gpt2", [0, 0, 0, 52], 10 },
        { "gpt2", [0, 0, 195, 731], 10 },
        { "gpt2", [1, 2, 3, 5, 8], 12 },
        { "llama-fp16", [1, 15043, 3186], 20 },
        { "llama-fp16", [1, 450, 4996, 17354], 20 },
    };

    private static readonly Dictionary<string, int[][]> ReadmeOutputs = new()
    {
        ["gpt2"] =
        [
            [0, 0, 0, 52, 204, 204, 204, 204, 204, 204],
            [0, 0, 195, 731, 731, 114, 114, 114, 114, 114],
            [1, 2, 3, 5, 8, 8, 8, 8, 8, 8, 8, 8],
        ],
        ["llama-fp16"] =
        [
            [1, 15043, 3186, 30016, 7356, 9023, 25068, 22665, 2507, 5236, 14142, 2550, 12800, 2033, 4239, 9745, 10641, 15242, 10110, 13653],
            [1, 450, 4996, 17354, 11788, 5619, 25211, 23124, 30954, 4355, 14017, 25190, 6074, 6566, 21376, 2522, 3362, 1404, 2376, 12454],
        ],
    };

    private static string FolderOf(string name) => name == "gpt2" ? OfficialFolders.Gpt2 : OfficialFolders.LlamaFp16;

    [Theory]
    [MemberData(nameof(ReadmeRows))]
    public void Readme_rows_are_reproduced_by_both_runtimes(string name, int[] prompt, int maxLength)
    {
        string folder = FolderOf(name);
        using var official = new OfficialRuntime(folder);
        using var model = LlmKitRuntime.Load(folder);

        int[] expected = official.Generate(prompt, maxLength);
        int[] actual = LlmKitRuntime.Generate(model, prompt, maxLength);

        Assert.Equal(expected, actual);
        Assert.Contains(ReadmeOutputs[name], row => row.SequenceEqual(expected));
    }

    [Theory]
    [InlineData("gpt2")]
    [InlineData("llama-fp16")]
    public void Five_prompts_of_100_tokens_give_identical_greedy_ids(string name)
    {
        string folder = FolderOf(name);
        using var official = new OfficialRuntime(folder);
        using var model = LlmKitRuntime.Load(folder);
        var random = new Random(13);
        for (int p = 0; p < 5; p++)
        {
            // Random in-vocabulary prompts of 3 to 40 tokens: these random-weight models have no language to prompt with.
            int[] prompt = Enumerable.Range(0, random.Next(3, 41)).Select(_ => random.Next(3, model.VocabularySize)).ToArray();
            int maxLength = Math.Min(prompt.Length + 100, model.MaxLength);

            Assert.Equal(official.Generate(prompt, maxLength), LlmKitRuntime.Generate(model, prompt, maxLength));
        }
    }

    [Theory]
    [InlineData("gpt2", Fp32Tolerance)]
    [InlineData("llama-fp16", Fp16Tolerance)]
    public void First_step_logits_agree_within_the_precisions_tolerance(string name, float tolerance)
    {
        string folder = FolderOf(name);
        using var official = new OfficialRuntime(folder);
        using var model = LlmKitRuntime.Load(folder);
        int[][] prompts = [[1, 2, 3], [5], [10, 20, 30, 40, 50, 60, 70, 80]];
        foreach (var prompt in prompts)
        {
            float[] expected = official.FirstStepLogits(prompt);
            float[] actual = LlmKitRuntime.FirstStepLogits(model, prompt);

            float diff = LlmKitRuntime.MaxAbsDifference(expected, actual);
            Assert.True(diff <= tolerance, $"{name}: max |logit difference| {diff} > {tolerance} for prompt [{string.Join(",", prompt)}]");
            Assert.True(expected.Max() - expected.Min() > 10 * tolerance, "the logits must not be flat, or the comparison proves nothing");
        }
    }

    [Theory]
    [InlineData("gpt2")]
    [InlineData("llama-fp16")]
    public void Tokenizer_ids_match_the_official_tokenizer(string name)
    {
        string folder = FolderOf(name);
        using var official = new OfficialRuntime(folder);
        using var model = LlmKitRuntime.Load(folder);
        string[] texts = [TokenizerSample, "Once upon a time", " leading space", "trailing space ", "a\n\nb", "x  y   z", "é", "🙂"];
        foreach (var text in texts)
        {
            // Both follow the official convention for tokenizer.json folders: no BOS is added to plain text.
            Assert.Equal(official.Encode(text), model.Tokenizer.Encode(text));
        }
    }

    [Fact]
    public void Gpt2_added_whitespace_tokens_decode_to_their_text()
    {
        using var official = new OfficialRuntime(OfficialFolders.Gpt2);
        using var model = LlmKitRuntime.Load(OfficialFolders.Gpt2);
        int[] ids = model.Tokenizer.Encode("a  b\t\t\tc");

        Assert.Contains(50286, ids); // the added token for two spaces
        Assert.Equal("  ", model.Tokenizer.Decode([50286]));
        Assert.Equal(official.Decode(ids), model.Tokenizer.Decode(ids));
        Assert.Equal("a  b\t\t\tc", model.Tokenizer.Decode(ids));
    }

    [Fact]
    public void Llama_fp16_bos_is_the_tokenizers_own_not_genai_configs_unk()
    {
        using var model = LlmKitRuntime.Load(OfficialFolders.LlamaFp16);

        Assert.Equal(0, model.Config.Model.BosTokenId); // genai_config.json says 0, which is <unk> in this vocabulary
        Assert.Equal(1, model.Tokenizer.BosTokenId);    // tokenizer_config.json's bos_token "<s>"
        Assert.False(model.Tokenizer.AddBos);           // onnxruntime-genai's Tokenizer adds none to plain text
        Assert.DoesNotContain(0, model.Tokenizer.Encode("Hello world"));
    }

    [Fact]
    public void The_official_folders_declare_what_the_runtime_now_reads()
    {
        using var gpt2 = LlmKitRuntime.Load(OfficialFolders.Gpt2);
        using var llama = LlmKitRuntime.Load(OfficialFolders.LlamaFp16);

        Assert.Equal("gpt2", gpt2.ModelType);
        Assert.Equal(4, gpt2.Config.Model.Decoder.NumAttentionHeads); // absent in the file: read from the graph's KV shape
        Assert.Equal("llama", llama.ModelType);

        // 5 layers x 1 combined tensor x 2 (K and V) x 4 heads x 512 positions x 8 x 4 bytes, twice over (ping-pong buffers).
        Assert.Equal(5L * 2 * 4 * 512 * 8 * 4 * 2, gpt2.KvCacheBytesPerSequence);

        // 2 layers x 2 tensors x 1 head x 2,048 positions x 16 x 2 bytes (fp16), twice over.
        Assert.Equal(2L * 2 * 1 * 2048 * 16 * 2 * 2, llama.KvCacheBytesPerSequence);
    }
}
