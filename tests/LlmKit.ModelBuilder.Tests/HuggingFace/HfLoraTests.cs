using LlmKit.Generation;
using LlmKit.Models;
using LlmKit.Testing;

namespace LlmKit.ModelBuilder.Tests.HuggingFace;

/// <summary>
/// <c>convert hf --lora</c>: without an adapter the folder computes exactly what the plain folder does; with a PEFT
/// adapter of the Hugging Face checkpoint (converted by <c>llmkit adapter</c>, no permutation) LlmKit computes the
/// reference forward over the merged weights W + (alpha / r)·B·A, and onnxruntime-genai 0.20.0 agrees with LlmKit.
/// </summary>
public sealed class HfLoraTests : IDisposable
{
    // Merged reference vs adapter graph: the graph adds (x·A)·B to x·W, the reference uses W + s·B·A rounded to float32
    // once more, summed in another order (blocked MatMul vs sequential dots). The plain HF graph vs reference already
    // differs by ~1e-5 (HfLogitsMatchReferenceTests); LoraAdapterTests measured up to ~1e-4 for the adapter's extra
    // rounding. 3e-4 leaves headroom while the adapter moves logits by order 1 (asserted to exceed 100 x this bound).
    private const float ReferenceTolerance = 3e-4f;

    // Same graph and adapter tensors in the same ONNX Runtime on both runtimes, one thread each: only the KV feeding
    // differs (shared buffers vs concatenation), as in HfOracleTests.
    private const float RuntimeTolerance = 1e-4f;

    private static readonly string[] AllModules = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"];
    private readonly TempFolder _temp = new();

    /// <summary>Llama (packed qkv, fused rotary), Qwen2 (packed qkv with biases), Qwen2 head_dim 8 (separate q/k/v with biases and RotaryEmbedding).</summary>
    public static TheoryData<string> Cases => new() { "llama", "qwen2", "qwen2-head8" };

    public void Dispose() => _temp.Dispose();

    [Theory]
    [MemberData(nameof(Cases))]
    public void Without_an_adapter_the_lora_folder_equals_the_plain_folder_exactly(string name)
    {
        int[] prompt = [1, .. HfCases.Tokens(40, seed: 3)];
        using var plain = new OrtDecoder(HfCases.Converted(name));
        using var lora = new OrtDecoder(HfCases.ConvertedWithLora(name));

        Assert.Equal(plain.Prefill(prompt).Logits, lora.Prefill(prompt).Logits); // adding rank-0 products adds exact zeros
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void With_an_adapter_llmkit_computes_the_reference_over_merged_weights(string name)
    {
        var (folder, peft) = Adapter(name, rank: 4, alpha: 8, AllModules, seed: 21);
        int[] prompt = [1, .. HfCases.Tokens(40, seed: 4)];
        var merged = HfCases.Reference(name, prompt.Length, (layer, module, weight) => peft.MergeInto(layer, module, weight));
        var plain = HfCases.Reference(name, prompt.Length);
        using var model = OnnxGenAIModel.Load(folder, new OnnxGenAIModelOptions { IntraOpThreads = 1, ReusePromptPrefixes = false });
        var adapter = model.LoadAdapter("a", AdapterPath(name));

        float[] logits = Logits(model, prompt, adapter);
        int vocab = model.VocabularySize;
        float adapterEffect = 0;
        for (int pos = 0; pos < prompt.Length; pos++)
        {
            float[] expected = merged.Forward(prompt[pos], pos);
            float diff = Numerics.MaxAbsDiff(logits.AsSpan(pos * vocab, vocab), expected);
            Assert.True(diff <= ReferenceTolerance, $"{name}, position {pos}: adapter vs merged reference max |diff| {diff}");
            adapterEffect = Math.Max(adapterEffect, Numerics.MaxAbsDiff(expected, plain.Forward(prompt[pos], pos)));
        }

        Assert.True(adapterEffect > 100 * ReferenceTolerance, $"{name}: the adapter changes logits by only {adapterEffect}");
    }

    /// <summary>The reference cases in fp32, and Llama int4 (MatMulNBits base weights, float32 LoRA deltas).</summary>
    public static TheoryData<string, WeightPrecision> OracleCases => new()
    {
        { "llama", WeightPrecision.Fp32 }, { "qwen2", WeightPrecision.Fp32 }, { "qwen2-head8", WeightPrecision.Fp32 }, { "llama", WeightPrecision.Int4 },
    };

    [Theory]
    [MemberData(nameof(OracleCases))]
    public void Onnxruntime_genai_with_the_adapter_agrees_with_llmkit(string name, WeightPrecision precision)
    {
        var (folder, _) = Adapter(name, rank: 2, alpha: 16, ["q_proj", "v_proj", "down_proj"], seed: 22, precision);
        using var model = OnnxGenAIModel.Load(folder, new OnnxGenAIModelOptions { IntraOpThreads = 1, ReusePromptPrefixes = false });
        var adapter = model.LoadAdapter("a", AdapterPath(name));
        using var official = new OfficialRuntime(folder);
        official.LoadAdapter(AdapterPath(name), "a");
        int[] prompt = [1, .. HfCases.Tokens(24, seed: 7)];

        float[] ours = Logits(model, prompt, adapter)[^model.VocabularySize..];
        float diff = Numerics.MaxAbsDiff(official.FirstStepLogits(prompt, "a"), ours);
        Assert.True(diff <= RuntimeTolerance, $"{name} {precision}: first-step max |logit difference| with the adapter {diff}");

        // min_length = max_length on both sides: the synthetic weights are random, so an early end of sequence could
        // otherwise leave few ids to compare; with it masked both runtimes generate all 40.
        int maxLength = prompt.Length + 40;
        int[] expected = official.Generate(prompt, maxLength, p => p.SetSearchOption("min_length", maxLength), adapter: "a");
        Assert.Equal(expected, Generate(model, prompt, maxLength, "a"));
        Assert.Equal(maxLength, expected.Length);
        Assert.NotEqual(official.Generate(prompt, maxLength, p => p.SetSearchOption("min_length", maxLength)), expected); // the adapter is really active
    }

    [Fact]
    public void The_adapter_converter_reports_the_hugging_face_row_order()
    {
        var summary = LoraAdapterConverter.Convert(new LoraAdapterConversionRequest(
            HfCases.ConvertedWithLora("llama"), WritePeft("llama", 2, 4, ["q_proj", "k_proj"], 1), AdapterPath("llama")));

        Assert.Equal((2, 2.0, 4, 8, "huggingface"), (summary.Rank, summary.Scale, summary.Modules, summary.Parameters, summary.BaseRowOrder));
    }

    [Fact]
    public void Phi3s_fused_projections_are_refused_with_lora()
    {
        var e = Assert.Throws<NotSupportedException>(() => HfConverter.Convert(
            new HfConversionRequest(HfCases.Checkpoint("phi3"), _temp.File("phi3-lora")) { LoraInputs = true }));
        Assert.Contains("qkv_proj", e.Message);
        Assert.Contains("--lora", e.Message);
    }

    [Fact]
    public void Fp16_is_refused_with_lora()
    {
        var e = Assert.Throws<NotSupportedException>(() => HfConverter.Convert(
            new HfConversionRequest(HfCases.Checkpoint("llama"), _temp.File("llama-fp16-lora")) { LoraInputs = true, Precision = WeightPrecision.Fp16 }));
        Assert.Contains("--precision fp16", e.Message);
    }

    private (string Folder, SyntheticPeftAdapter Peft) Adapter(string name, int rank, double alpha, string[] targets, int seed, WeightPrecision precision = WeightPrecision.Fp32)
    {
        string folder = HfCases.ConvertedWithLora(name, precision);
        string peftFolder = _temp.File($"peft-{name}");
        var peft = SyntheticPeftAdapter.Write(peftFolder, ShapeOf(name), rank, alpha, targets, seed);
        LoraAdapterConverter.Convert(new LoraAdapterConversionRequest(folder, peftFolder, AdapterPath(name)));
        return (folder, peft);
    }

    private string WritePeft(string name, int rank, double alpha, string[] targets, int seed)
    {
        string peftFolder = _temp.File($"peft-{name}");
        SyntheticPeftAdapter.Write(peftFolder, ShapeOf(name), rank, alpha, targets, seed);
        return peftFolder;
    }

    private string AdapterPath(string name) => _temp.File($"{name}.onnx_adapter");

    // The synthetic adapter's projection shapes: hidden, intermediate, heads and KV heads of the case (head_dim = hidden / heads).
    private static LlamaConfig ShapeOf(string name)
    {
        var shape = HfCases.All[name].Shape;
        Assert.Null(shape.HeadDim);
        return new LlamaConfig(Dim: shape.Hidden, HiddenDim: shape.Intermediate, Layers: shape.Layers, Heads: shape.Heads, KvHeads: shape.KvHeads, VocabSize: shape.VocabSize, SeqLen: shape.MaxPositions);
    }

    // The logits of every prompt position in one LlmKit prefill with the adapter active.
    private static float[] Logits(OnnxGenAIModel model, int[] prompt, LoraAdapter adapter)
    {
        var state = model.RentState(prompt, adapter);
        try
        {
            return state.Append(prompt, CancellationToken.None).ToArray();
        }
        finally
        {
            state.Truncate(0);
            model.ReturnState(state);
        }
    }

    // The official conventions: max_length counts the prompt, and the EOS that ends a sequence is left out.
    private static int[] Generate(OnnxGenAIModel model, int[] prompt, int maxLength, string adapter)
    {
        using var generator = model.CreateGenerator(prompt, new GenerationOptions { Temperature = 0, MaxNewTokens = maxLength - prompt.Length, MinNewTokens = maxLength - prompt.Length, Adapter = adapter });
        while (!generator.IsDone)
        {
            generator.GenerateNextToken();
        }

        var tokens = generator.Tokens.ToArray();
        return generator.FinishReason == GenerationFinishReason.EndOfSequence ? tokens[..^1] : tokens;
    }
}
