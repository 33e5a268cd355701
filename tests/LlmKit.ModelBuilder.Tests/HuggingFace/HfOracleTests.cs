using LlmKit.Generation;
using LlmKit.Models;
using LlmKit.Testing;

namespace LlmKit.ModelBuilder.Tests.HuggingFace;

/// <summary>
/// onnxruntime-genai 0.20.0 loads every converted Hugging Face folder, and its first-step logits and greedy ids agree
/// with LlmKit's on the same folder.
/// </summary>
public sealed class HfOracleTests
{
    // Same graph, same ONNX Runtime build, one thread on both sides: the only differences come from how each runtime
    // feeds the KV cache (shared buffers vs concatenation), which changes summation order at the 1e-6 level.
    private const float LogitTolerance = 1e-4f;

    public static TheoryData<string, WeightPrecision> Cases()
    {
        var data = new TheoryData<string, WeightPrecision>();
        foreach (string name in HfCases.All.Keys)
        {
            data.Add(name, WeightPrecision.Fp32);
            data.Add(name, WeightPrecision.Fp16);
            data.Add(name, WeightPrecision.Int4); // every architecture, window and rope scaling in int4 (accuracy_level 4) too
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void The_official_runtime_agrees_with_llmkit(string name, WeightPrecision precision)
    {
        string folder = precision == WeightPrecision.Int4
            ? HfCases.Converted(name, WeightPrecision.Int4, Llama2cConversionRequest.DefaultInt4AccuracyLevel)
            : HfCases.Converted(name, precision);
        using var official = new OfficialRuntime(folder);
        using var model = OnnxGenAIModel.Load(folder, new OnnxGenAIModelOptions { IntraOpThreads = 1, ReusePromptPrefixes = false });
        Assert.Equal(HfCases.All[name].Shape.Architecture switch
        {
            "LlamaForCausalLM" => "llama",
            "MistralForCausalLM" => "mistral",
            "Qwen2ForCausalLM" => "qwen2",
            "Phi3ForCausalLM" => "phi3",
            "GemmaForCausalLM" => "gemma",
            _ => "gemma2",
        }, official.ModelType);

        int[] prompt = [1, .. HfCases.Tokens(24, seed: 7)];
        float diff = Numerics.MaxAbsDiff(official.FirstStepLogits(prompt), FirstStepLogits(model, prompt));
        // fp16 logits are float16 values: a difference, if any, is at least one float16 step (2^-9 near 4).
        float tolerance = precision == WeightPrecision.Fp16 ? 1e-2f : LogitTolerance;
        Assert.True(diff <= tolerance, $"{name} {precision}: first-step max |logit difference| {diff}");

        // 60 new tokens: past Mistral's window (16) and Gemma2's (8), so both runtimes run their windows. min_length =
        // max_length on both sides: the weights are random, so an early end of sequence could leave few ids to compare.
        int maxLength = prompt.Length + 60;
        int[] expected = official.Generate(prompt, maxLength, p => p.SetSearchOption("min_length", maxLength));
        Assert.Equal(expected, Generate(model, prompt, maxLength));
        Assert.Equal(maxLength, expected.Length);
    }

    private static float[] FirstStepLogits(OnnxGenAIModel model, int[] prompt)
    {
        var state = model.RentState(prompt);
        try
        {
            return state.Append(prompt, CancellationToken.None)[^model.VocabularySize..].ToArray();
        }
        finally
        {
            state.Truncate(0);
            model.ReturnState(state);
        }
    }

    // The official conventions: max_length counts the prompt, and the EOS that ends a sequence is left out.
    private static int[] Generate(OnnxGenAIModel model, int[] prompt, int maxLength)
    {
        using var generator = model.CreateGenerator(prompt, new GenerationOptions { Temperature = 0, MaxNewTokens = maxLength - prompt.Length, MinNewTokens = maxLength - prompt.Length });
        while (!generator.IsDone)
        {
            generator.GenerateNextToken();
        }

        var tokens = generator.Tokens.ToArray();
        return generator.FinishReason == GenerationFinishReason.EndOfSequence ? tokens[..^1] : tokens;
    }
}
