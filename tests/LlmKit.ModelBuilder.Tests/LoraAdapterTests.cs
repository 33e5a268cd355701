using LlmKit.Testing;

namespace LlmKit.ModelBuilder.Tests;

/// <summary>
/// A base folder with LoRA inputs runs exactly as the plain folder without an adapter, and with an adapter converted
/// from a PEFT folder by <c>llmkit adapter</c> (activated through ONNX Runtime's own adapter loader) computes the
/// reference forward over the merged weights W + (alpha / r)·B·A.
/// </summary>
public sealed class LoraAdapterTests
{
    /// <summary>Head size 16: q, k and v share one packed MatMul (the fused-rotary form), so the packed deltas are tested.</summary>
    internal static readonly LlamaConfig Packed = new(Dim: 64, HiddenDim: 96, Layers: 2, Heads: 4, KvHeads: 2, VocabSize: 300, SeqLen: 128);

    /// <summary>Head size 8: separate q, k, v projections and RotaryEmbedding nodes.</summary>
    internal static readonly LlamaConfig Separate = new(Dim: 32, HiddenDim: 80, Layers: 2, Heads: 4, KvHeads: 2, VocabSize: 300, SeqLen: 128);

    internal const int Seed = 99;

    // Merged reference vs adapter graph: the graph computes x·W + (x·A)·B, the reference x·(W + s·B·A), whose merged
    // weights are each rounded to float32 once more, in another summation order. Over two layers with logits of order
    // 10 that measured up to 1.03e-4 here; 3e-4 leaves headroom while the adapter itself moves logits by order 1
    // (asserted below to exceed 100 x this bound).
    private const float Tolerance = 3e-4f;

    public static TheoryData<string> Shapes => new() { "packed", "separate" };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Without_an_adapter_the_lora_folder_equals_the_plain_folder_exactly(string shape)
    {
        var config = ConfigOf(shape);
        int[] prompt = Prompt(config, 40);
        using var plain = new OrtDecoder(TestModels.Synthetic(config, Seed, OnnxGraphForm.OrtGenAI));
        using var lora = new OrtDecoder(TestModels.SyntheticWithLoraInputs(config, Seed));

        var (expected, _) = plain.Prefill(prompt);
        var (actual, _) = lora.Prefill(prompt);

        Assert.Equal(expected, actual); // adding rank-0 products adds exact zeros
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void With_an_adapter_the_logits_equal_the_reference_over_merged_weights(string shape)
    {
        var config = ConfigOf(shape);
        using var temp = new TempFolder();
        var peft = SyntheticPeftAdapter.Write(temp.File("peft"), config, rank: 4, alpha: 8, ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"], seed: 5);
        string folder = TestModels.SyntheticWithLoraInputs(config, Seed);
        var summary = LoraAdapterConverter.Convert(new LoraAdapterConversionRequest(folder, temp.File("peft"), temp.File("a.onnx_adapter")));
        Assert.Equal((4, 2.0, 14, 28), (summary.Rank, summary.Scale, summary.Modules, summary.Parameters));

        var merged = new LlamaReference(peft.MergedWeights(TestModels.SyntheticCheckpoint(config, Seed).Checkpoint));
        var plain = TestModels.Reference(TestModels.SyntheticCheckpoint(config, Seed).Checkpoint);
        int[] prompt = Prompt(config, 60);
        using var decoder = new OrtDecoder(folder, temp.File("a.onnx_adapter"));
        var (logits, cache) = decoder.Prefill(prompt);
        float adapterEffect = 0;
        for (int pos = 0; pos < prompt.Length; pos++)
        {
            float[] expected = merged.Forward(prompt[pos], pos);
            float diff = Numerics.MaxAbsDiff(logits.AsSpan(pos * config.VocabSize, config.VocabSize), expected);
            Assert.True(diff <= Tolerance, $"{shape}, position {pos}: adapter graph vs merged reference max |diff| {diff}");
            adapterEffect = Math.Max(adapterEffect, Numerics.MaxAbsDiff(expected, plain.Forward(prompt[pos], pos)));
        }

        // One decode step after the prefill goes through the cache path too.
        var (step, _) = decoder.Decode(7, cache);
        float stepDiff = Numerics.MaxAbsDiff(step, merged.Forward(7, prompt.Length));
        Assert.True(stepDiff <= Tolerance, $"{shape}, decode step: max |diff| {stepDiff}");
        Assert.True(adapterEffect > 100 * Tolerance, $"the adapter changes logits by only {adapterEffect}");
    }

    [Fact]
    public void An_adapter_for_a_folder_without_lora_inputs_is_refused_with_the_fix()
    {
        using var temp = new TempFolder();
        SyntheticPeftAdapter.Write(temp.File("peft"), Packed, rank: 2, alpha: 2, ["q_proj"], seed: 1);
        var e = Assert.Throws<InvalidDataException>(() => LoraAdapterConverter.Convert(
            new LoraAdapterConversionRequest(TestModels.Synthetic(Packed, Seed, OnnxGraphForm.OrtGenAI), temp.File("peft"), temp.File("a.onnx_adapter"))));
        Assert.Contains("--lora", e.Message);
    }

    [Fact]
    public void A_truncated_safetensors_file_is_refused_naming_the_tensor()
    {
        using var temp = new TempFolder();
        SyntheticPeftAdapter.Write(temp.File("peft"), Packed, rank: 2, alpha: 2, ["q_proj"], seed: 1);
        string weights = Path.Combine(temp.File("peft"), "adapter_model.safetensors");
        byte[] bytes = File.ReadAllBytes(weights);
        File.WriteAllBytes(weights, bytes[..^16]);
        var e = Assert.Throws<InvalidDataException>(() => LoraAdapterConverter.Convert(
            new LoraAdapterConversionRequest(TestModels.SyntheticWithLoraInputs(Packed, Seed), temp.File("peft"), temp.File("a.onnx_adapter"))));
        Assert.Contains("lora_B.weight", e.Message);
    }

    internal static LlamaConfig ConfigOf(string shape) => shape == "packed" ? Packed : Separate;

    internal static int[] Prompt(LlamaConfig config, int length)
    {
        var random = new Random(length);
        return [.. Enumerable.Range(0, length).Select(_ => random.Next(3, config.VocabSize))];
    }
}
