using LlmKit.Scoring;
using LlmKit.Testing;
using Microsoft.ML.OnnxRuntimeGenAI;
using Generator = Microsoft.ML.OnnxRuntimeGenAI.Generator;

namespace LlmKit.OnnxRuntimeGenAI.Tests;

/// <summary>
/// The scorer reads logits through the native OgaGenerator_GetLogits: they must be a proper distribution, agree with
/// greedy generation, agree between a one-token-at-a-time scoring and a fresh prefill, and match LlmKit's own scorer.
/// </summary>
[Collection(OgaModelsCollection.Name)]
public sealed class TokenScorerTests(OgaModels models)
{
    public static TheoryData<string, int[], int, int[]> ReadmeRows => ReferenceOutputTests.ReadmeRows;

    [Theory]
    [MemberData(nameof(ReadmeRows))]
    public void Logits_give_a_distribution_whose_argmax_is_each_greedy_token(string folder, int[] input, int maxLength, int[] expected)
    {
        var engine = models.For(folder);
        var row = new float[engine.VocabularySize];
        using var parameters = new GeneratorParams(engine.NativeModel);
        parameters.SetSearchOption("max_length", maxLength);
        using var generator = new Generator(engine.NativeModel, parameters);
        generator.AppendTokens(input);
        for (int i = input.Length; i < expected.Length; i++)
        {
            engine.CopyLastLogits(generator, row);
            double[] logProbabilities = LogSoftmax(row);
            double total = 0;
            int argmax = 0;
            for (int t = 0; t < row.Length; t++)
            {
                total += Math.Exp(logProbabilities[t]);
                if (row[t] > row[argmax])
                {
                    argmax = t;
                }
            }

            // The scorer's own formula agrees with the plain one at the argmax and at another token.
            Assert.Equal(logProbabilities[argmax], LlmKit.Scoring.ModelTokenScorer.LogProbability(row, argmax), 1e-5);
            Assert.Equal(logProbabilities[(argmax + 1) % row.Length], LlmKit.Scoring.ModelTokenScorer.LogProbability(row, (argmax + 1) % row.Length), 1e-5);

            Assert.Equal(1.0, total, 1e-4);
            Assert.Equal(expected[i], argmax);
            generator.AppendTokens([expected[i]]);
        }
    }

    [Theory]
    [MemberData(nameof(ReadmeRows))]
    public void Scoring_a_sequence_equals_a_fresh_prefill_at_every_position_and_greedy_tokens_score_highest(string folder, int[] input, int maxLength, int[] expected)
    {
        _ = maxLength;
        var engine = models.For(folder);
        var scorer = new OnnxRuntimeGenAITokenScorer(engine);
        int[] continuation = expected[input.Length..];
        var scores = scorer.ScoreIds(input, [continuation], CancellationToken.None)[0];
        Assert.Equal(continuation, scores.TokenIds);

        // fp32 graphs: incremental decode and prefill agree to float rounding. The fp16 Llama keeps its KV cache and
        // logits in fp16 (about 3 significant digits), and the two paths round differently, so allow 2e-2 there.
        double tolerance = folder == "llama-fp16" ? 2e-2 : 1e-4;
        var row = new float[engine.VocabularySize];
        for (int i = 0; i < continuation.Length; i++)
        {
            using var parameters = new GeneratorParams(engine.NativeModel);
            parameters.SetSearchOption("max_length", input.Length + i + 1);
            using var generator = new Generator(engine.NativeModel, parameters);
            generator.AppendTokens(expected[..(input.Length + i)]);
            engine.CopyLastLogits(generator, row);
            float fresh = LlmKit.Scoring.ModelTokenScorer.LogProbability(row, continuation[i]);
            Assert.Equal(fresh, scores.LogProbabilities[i], tolerance);

            Assert.Equal(LogSoftmax(row).Max(), fresh, 1e-5);
            Assert.True(scores.LogProbabilities[i] < 0 || Math.Abs(scores.LogProbabilities[i]) < 1e-6, $"a log-probability must be <= 0 (got {scores.LogProbabilities[i]})");
        }
    }

    // log softmax in double, written out plainly as the reference for the scorer's float version.
    private static double[] LogSoftmax(float[] row)
    {
        double max = row.Max();
        double sum = 0;
        foreach (float v in row)
        {
            sum += Math.Exp(v - max);
        }

        double log = Math.Log(sum);
        return [.. row.Select(v => v - max - log)];
    }

    [Fact]
    public async Task Text_scores_equal_LlmKits_own_scorer_on_stories260K()
    {
        var ours = new OnnxRuntimeGenAITokenScorer(models.Stories260K);
        var llmkit = new OnnxTokenScorer(LoadedModels.Stories260K);
        string prompt = "Once upon a time";
        string[] continuations = [", there was a little girl named Lily.", " a big dog ran to the park", " the sun"];

        var a = await ours.ScoreManyAsync(prompt, continuations);
        var b = await llmkit.ScoreManyAsync(prompt, continuations);
        Assert.Equal(continuations.Length, a.Count);
        for (int c = 0; c < continuations.Length; c++)
        {
            Assert.Equal(b[c].TokenIds, a[c].TokenIds);
            for (int i = 0; i < a[c].TokenIds.Count; i++)
            {
                Assert.Equal(b[c].LogProbabilities[i], a[c].LogProbabilities[i], 1e-4);
            }
        }

        // Same tokenizer and limits as LlmKit's own scorer.
        Assert.Equal(llmkit.Tokenizer.EncodeToIds("Lily and Ben"), ours.Tokenizer.EncodeToIds("Lily and Ben"));
        Assert.Equal(LoadedModels.Stories260K.MaxLength, ours.MaxSequenceLength);
    }

    [Fact]
    public async Task ScoreMany_equals_separate_calls_after_rewinding_between_continuations()
    {
        var scorer = new OnnxRuntimeGenAITokenScorer(models.Stories260K);
        string[] continuations = [" Lily was happy.", " Tom", " The dog barked at the cat."];
        var together = await scorer.ScoreManyAsync("One day,", continuations);
        for (int c = 0; c < continuations.Length; c++)
        {
            var alone = await scorer.ScoreAsync("One day,", continuations[c]);
            Assert.Equal(alone.TokenIds, together[c].TokenIds);
            for (int i = 0; i < alone.TokenIds.Count; i++)
            {
                Assert.Equal(alone.LogProbabilities[i], together[c].LogProbabilities[i], 1e-5);
            }
        }

        // ScoreTokens over ids gives the same numbers as the text form.
        var tokens = await scorer.ScoreTokensAsync(models.Stories260K.Tokenizer.Encode("One day,", addBos: false), together[0].TokenIds);
        Assert.Equal(together[0].LogProbabilities.Count, tokens.Length);
        for (int i = 0; i < tokens.Length; i++)
        {
            Assert.Equal(together[0].LogProbabilities[i], tokens[i], 1e-5);
        }
    }

    [Fact]
    public async Task Bad_arguments_fail_with_named_limits_and_cancellation_is_honoured()
    {
        var scorer = new OnnxRuntimeGenAITokenScorer(models.Gpt2);
        var tooLong = Enumerable.Repeat(5, models.Gpt2.MaxLength + 1).ToArray();
        var error = await Assert.ThrowsAsync<ArgumentException>(() => scorer.ScoreTokensAsync([], tooLong));
        Assert.Contains("max length is 512", error.Message, StringComparison.Ordinal);

        var outside = await Assert.ThrowsAsync<ArgumentException>(() => scorer.ScoreTokensAsync([1], [1000]));
        Assert.Contains("outside the vocabulary [0, 1000)", outside.Message, StringComparison.Ordinal);

        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => scorer.ScoreTokensAsync([1, 2], [3, 5, 8], cancelled.Token));
    }
}
