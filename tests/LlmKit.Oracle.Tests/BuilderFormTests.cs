using LlmKit.Generation;
using LlmKit.ModelBuilder;
using LlmKit.Models;
using LlmKit.Testing;

namespace LlmKit.Oracle.Tests;

/// <summary>
/// Every graph form and weight precision LlmKit's builder emits, run by LlmKit and by onnxruntime-genai side by side:
/// our own conversions are never the only evidence.
/// </summary>
public class BuilderFormTests
{
    // fp32 graphs: same graph, same ONNX Runtime, so the expected difference is 0; 1e-4 allows a different kernel
    // order (~100 ulps at |logit| < 10). int4 weights (and accuracy_level 4's int8 activations) are the same bytes and
    // the same kernels in both runtimes, so the same bound holds.
    private const float LogitTolerance = 1e-4f;

    // GQA with 4 query heads over 2 KV heads, head size 16 (fused rotary in the official form).
    private static readonly LlamaConfig Gqa = new(Dim: 64, HiddenDim: 96, Layers: 2, Heads: 4, KvHeads: 2, VocabSize: 300, SeqLen: 256);

    private static readonly string[] StoryPrompts =
    [
        "Once upon a time",
        "The little dog",
        "Lily and Ben went to the park",
        "One day, a girl named",
        "Tom had a big red ball.",
    ];

    public static TheoryData<string> Forms => new() { "standard-fp32", "official-fp32", "official-int4", "official-int4-exact", "official-int4-zero-points", "synthetic-gqa-official", "synthetic-gqa-standard" };

    internal static string FolderFor(string form) => form switch
    {
        "standard-fp32" => TestModels.Stories260KFolderFor(OnnxGraphForm.Standard),
        "official-fp32" => TestModels.Stories260KFolderFor(OnnxGraphForm.OrtGenAI),
        "official-int4" => TestModels.Stories260KFolderFor(OnnxGraphForm.OrtGenAI, WeightPrecision.Int4),
        "official-int4-exact" => TestModels.Stories260KFolderFor(OnnxGraphForm.OrtGenAI, WeightPrecision.Int4, int4AccuracyLevel: 0),
        "official-int4-zero-points" => TestModels.Stories260KFolderFor(OnnxGraphForm.OrtGenAI, WeightPrecision.Int4, int4ZeroPoints: true),
        "synthetic-gqa-official" => TestModels.Synthetic(Gqa, seed: 7, OnnxGraphForm.OrtGenAI),
        "synthetic-gqa-standard" => TestModels.Synthetic(Gqa, seed: 7, OnnxGraphForm.Standard),
        _ => throw new ArgumentOutOfRangeException(nameof(form), form, null),
    };

    /// <summary>Five prompts: story texts encoded by LlmKit for stories260K, seeded random ids for the synthetic model.</summary>
    internal static int[][] PromptsFor(OnnxGenAIModel model, string form)
    {
        if (!form.StartsWith("synthetic", StringComparison.Ordinal))
        {
            return [.. StoryPrompts.Select(text => model.Tokenizer.Encode(text))];
        }

        var random = new Random(form.Length);
        return [.. Enumerable.Range(0, 5).Select(_ => Enumerable.Range(0, random.Next(2, 30)).Select(_ => random.Next(3, model.VocabularySize)).ToArray())];
    }

    [Theory]
    [MemberData(nameof(Forms))]
    public void Five_prompts_of_100_tokens_give_identical_greedy_ids(string form)
    {
        string folder = FolderFor(form);
        using var official = new OfficialRuntime(folder);
        using var model = LlmKitRuntime.Load(folder);
        foreach (var prompt in PromptsFor(model, form))
        {
            int maxLength = prompt.Length + 100;
            int[] expected = official.Generate(prompt, maxLength);

            Assert.Equal(expected, LlmKitRuntime.Generate(model, prompt, maxLength));
            Assert.True(expected.Length > prompt.Length + 10, "the comparison must cover more than a few tokens");
        }
    }

    [Theory]
    [MemberData(nameof(Forms))]
    public void First_step_logits_agree(string form)
    {
        string folder = FolderFor(form);
        using var official = new OfficialRuntime(folder);
        using var model = LlmKitRuntime.Load(folder);
        foreach (var prompt in PromptsFor(model, form))
        {
            float diff = LlmKitRuntime.MaxAbsDifference(official.FirstStepLogits(prompt), LlmKitRuntime.FirstStepLogits(model, prompt));
            Assert.True(diff <= LogitTolerance, $"{form}: max |logit difference| {diff} > {LogitTolerance}");
        }
    }

    [Theory]
    [InlineData("llama")]
    [InlineData("mistral")]
    [InlineData("qwen2")]
    [InlineData("phi3")]
    [InlineData("gemma")]
    [InlineData("gemma2")]
    [InlineData("phi")]
    public void Each_llama_like_family_loads_and_agrees_with_the_official_runtime(string type)
    {
        // The official builder emits these families as the same Llama-like graph (same I/O names, dtypes and shapes);
        // only model.type differs. No official folder of each is available here, so the official-form stories260K
        // folder is relabelled: both runtimes must accept the type and agree.
        using var folder = TempModelFolder.CopyOf(FolderFor("official-fp32"));
        folder.EditConfig(c => c["model"]!["type"] = type);
        using var official = new OfficialRuntime(folder.Path);
        using var model = LlmKitRuntime.Load(folder.Path);
        Assert.Equal(type, official.ModelType);
        Assert.Equal(type, model.ModelType);

        int[] prompt = model.Tokenizer.Encode("Once upon a time");
        Assert.Equal(official.Generate(prompt, 80), LlmKitRuntime.Generate(model, prompt, 80));
    }
}
