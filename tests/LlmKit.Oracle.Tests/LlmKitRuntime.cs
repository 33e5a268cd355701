using LlmKit.Generation;
using LlmKit.Models;

namespace LlmKit.Oracle.Tests;

/// <summary>LlmKit's side of each comparison, in the official runtime's conventions (prompt included, EOS left out).</summary>
internal static class LlmKitRuntime
{
    public static OnnxGenAIModel Load(string folder) =>
        OnnxGenAIModel.Load(folder, new OnnxGenAIModelOptions { IntraOpThreads = 1, ReusePromptPrefixes = false });

    /// <summary>Generates until <paramref name="maxLength"/> tokens in all (the official max_length) or EOS.</summary>
    public static int[] Generate(OnnxGenAIModel model, int[] prompt, int maxLength, GenerationOptions? options = null)
    {
        options = (options ?? new GenerationOptions { Temperature = 0 }) with { MaxNewTokens = maxLength - prompt.Length };
        using var generator = model.CreateGenerator(prompt, options);
        while (!generator.IsDone)
        {
            generator.GenerateNextToken();
        }

        var tokens = generator.Tokens.ToArray();
        return generator.FinishReason == GenerationFinishReason.EndOfSequence ? tokens[..^1] : tokens;
    }

    /// <summary>The raw logits of the prompt's last position after one prefill run.</summary>
    public static float[] FirstStepLogits(OnnxGenAIModel model, int[] prompt)
    {
        var state = model.RentState(prompt);
        try
        {
            var logits = state.Append(prompt, CancellationToken.None);
            return logits[^model.VocabularySize..].ToArray();
        }
        finally
        {
            state.Truncate(0);
            model.ReturnState(state);
        }
    }

    public static float MaxAbsDifference(float[] a, float[] b)
    {
        Assert.Equal(a.Length, b.Length);
        float max = 0;
        for (int i = 0; i < a.Length; i++)
        {
            max = Math.Max(max, Math.Abs(a[i] - b[i]));
        }

        return max;
    }
}
