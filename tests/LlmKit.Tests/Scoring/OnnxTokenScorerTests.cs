using LlmKit.ModelBuilder;
using LlmKit.Scoring;
using LlmKit.Testing;

namespace LlmKit.Tests.Scoring;

public class OnnxTokenScorerTests
{
    private static readonly OnnxTokenScorer Scorer = new(LoadedModels.Stories260K);

    [Fact]
    public async Task Token_log_probabilities_match_the_managed_reference_forward_pass()
    {
        var tokenizer = LoadedModels.Stories260K.Tokenizer;
        int[] context = tokenizer.Encode("Once upon a time, there was", addBos: false);
        int[] tokens = tokenizer.Encode(" a little girl named Lily.", addBos: false);

        float[] scores = await Scorer.ScoreTokensAsync(context, tokens);

        // Reference: llama2.c-style fp32 forward over BOS + context + tokens, log-softmax of each predicting row.
        var reference = new LlamaReference(TestModels.Checkpoint(SharedFixtures.Stories260KCheckpoint));
        int[] sequence = [tokenizer.BosTokenId, .. context, .. tokens];
        var expected = new List<float>();
        for (int position = 0; position < sequence.Length - 1; position++)
        {
            float[] logits = reference.Forward(sequence[position], position);
            if (position >= context.Length)
            {
                expected.Add(OnnxTokenScorer.LogProbability(logits, sequence[position + 1]));
            }
        }

        // The ONNX graph and the reference agree on logits to 1e-4 (builder tests); log-softmax adds at most
        // a few ulps of the log-sum-exp, so 1e-3 is a safe bound that still catches any off-by-one position.
        Assert.Equal(tokens.Length, scores.Length);
        for (int i = 0; i < tokens.Length; i++)
        {
            Assert.InRange(scores[i], expected[i] - 1e-3f, expected[i] + 1e-3f);
        }
    }

    [Fact]
    public async Task Score_many_shares_the_prompt_and_equals_separate_scoring()
    {
        const string prompt = "Lily went to the park. She saw a";
        string[] continuations = [" big dog.", " red ball", " tree"];

        var together = await Scorer.ScoreManyAsync(prompt, continuations);
        for (int i = 0; i < continuations.Length; i++)
        {
            var alone = await Scorer.ScoreAsync(prompt, continuations[i]);
            Assert.Equal(alone.TokenIds, together[i].TokenIds);

            // Same arithmetic in a different order of runs: equal to float rounding (1e-4).
            for (int t = 0; t < alone.TokenIds.Count; t++)
            {
                Assert.InRange(together[i].LogProbabilities[t], alone.LogProbabilities[t] - 1e-4f, alone.LogProbabilities[t] + 1e-4f);
            }
        }
    }

    [Fact]
    public async Task A_fluent_continuation_is_more_likely_than_a_scrambled_one()
    {
        var fluent = await Scorer.ScoreAsync("Once upon a time, there was a little", " girl named Lily.");
        var scrambled = await Scorer.ScoreAsync("Once upon a time, there was a little", " Lily named girl.");
        Assert.True(fluent.TotalLogProbability > scrambled.TotalLogProbability);
        Assert.All(fluent.LogProbabilities, lp => Assert.True(lp <= 0));
    }

    [Fact]
    public async Task Bad_arguments_are_rejected_with_clear_messages()
    {
        await Assert.ThrowsAsync<ArgumentException>(() => Scorer.ScoreManyAsync("x", []));
        await Assert.ThrowsAsync<ArgumentException>(() => Scorer.ScoreAsync("x", ""));
        var tooLong = await Assert.ThrowsAsync<ArgumentException>(() => Scorer.ScoreTokensAsync([], Enumerable.Repeat(300, 600).ToArray()));
        Assert.Contains("max length", tooLong.Message, StringComparison.Ordinal);
        var badId = await Assert.ThrowsAsync<ArgumentException>(() => Scorer.ScoreTokensAsync([], [100_000]));
        Assert.Contains("outside the vocabulary", badId.Message, StringComparison.Ordinal);
    }
}
