using LlmKit.Generation;
using LlmKit.ModelBuilder;
using LlmKit.Models;
using LlmKit.Scoring;
using LlmKit.Testing;

namespace LlmKit.Tests.Generation;

/// <summary>
/// Prompt-prefix reuse on the real stories260K model in both KV layouts: ping-pong buffers (Standard form, where a
/// shorter prefix is compacted in place) and one shared buffer (OrtGenAI form). Each test loads its own model so the
/// pool of finished sequences is under its control.
/// </summary>
public class PrefixReuseTests
{
    public static TheoryData<OnnxGraphForm> Forms => new() { OnnxGraphForm.Standard, OnnxGraphForm.OrtGenAI };

    private static OnnxGenAIModel Load(OnnxGraphForm form, bool reuse = true) =>
        OnnxGenAIModel.Load(TestModels.Stories260KFolderFor(form), new OnnxGenAIModelOptions { IntraOpThreads = 1, ReusePromptPrefixes = reuse });

    [Theory]
    [MemberData(nameof(Forms))]
    public async Task A_diverging_context_reuses_the_shared_prefix_and_still_matches_the_reference(OnnxGraphForm form)
    {
        using var model = Load(form);
        Assert.Equal(form == OnnxGraphForm.OrtGenAI, model.SharesKvBuffer);
        var scorer = new OnnxTokenScorer(model);
        var tokenizer = model.Tokenizer;
        int[] first = tokenizer.Encode("Once upon a time, there was a little girl named Lily. She loved to play", addBos: false);
        int[] second = tokenizer.Encode("Once upon a time, there was a big dog. He liked to run", addBos: false);
        int[] tokens = tokenizer.Encode(" in the park with her friends.", addBos: false);

        // The first call leaves BOS + first context in the pool; the second shares "Once upon a time, there was a"
        // and must prefill only the rest (in the ping-pong layout after moving the kept rows of every head).
        await scorer.ScoreTokensAsync(first, tokens);
        float[] scores = await scorer.ScoreTokensAsync(second, tokens);

        var reference = new LlamaReference(TestModels.Checkpoint(SharedFixtures.Stories260KCheckpoint));
        int[] sequence = [tokenizer.BosTokenId, .. second, .. tokens];
        for (int position = 0; position < sequence.Length - 1; position++)
        {
            float[] logits = reference.Forward(sequence[position], position);
            if (position >= second.Length)
            {
                // Same bound as the scorer's own reference test: logits agree to 1e-4, log-softmax adds a few ulps.
                float expected = OnnxTokenScorer.LogProbability(logits, sequence[position + 1]);
                Assert.InRange(scores[position - second.Length], expected - 1e-3f, expected + 1e-3f);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Forms))]
    public async Task The_next_chat_turn_prefills_only_its_new_tokens_and_generates_what_a_cold_model_does(OnnxGraphForm form)
    {
        using var warm = Load(form);
        using var cold = Load(form, reuse: false);
        var greedy = new GenerationOptions { Temperature = 0, MaxNewTokens = 24 };
        int[] turn1 = warm.Tokenizer.Encode("Once upon a time, there was a little girl named Lily.");

        var reply = await warm.GenerateAsync(turn1, greedy);
        Assert.Equal(0, reply.CachedPromptTokenCount);

        // The next prompt is the whole history plus new text: all of turn 1 and the reply's tokens whose KV was
        // computed (every generated token but the last) come from the cache.
        int[] turn2 = [.. turn1, .. reply.TokenIds, .. warm.Tokenizer.Encode(" One day, she saw a", addBos: false)];
        var warmAnswer = await warm.GenerateAsync(turn2, greedy);
        var coldAnswer = await cold.GenerateAsync(turn2, greedy);

        Assert.Equal(turn1.Length + reply.TokenIds.Count - 1, warmAnswer.CachedPromptTokenCount);
        Assert.Equal(0, coldAnswer.CachedPromptTokenCount);
        Assert.Equal(coldAnswer.TokenIds, warmAnswer.TokenIds);

        // Asking the same prompt again reuses all of it but the last token, which must be fed to get logits.
        var again = await warm.GenerateAsync(turn2, greedy);
        Assert.Equal(turn2.Length - 1, again.CachedPromptTokenCount);
        Assert.Equal(coldAnswer.TokenIds, again.TokenIds);
    }

    [Fact]
    public async Task Reuse_can_be_turned_off()
    {
        using var model = Load(OnnxGraphForm.Standard, reuse: false);
        Assert.False(model.ReusesPromptPrefixes);
        var options = new GenerationOptions { Temperature = 0, MaxNewTokens = 8 };
        await model.GenerateAsync("Once upon a time", options);
        var second = await model.GenerateAsync("Once upon a time", options);
        Assert.Equal(0, second.CachedPromptTokenCount);
    }

    [Theory]
    [MemberData(nameof(Forms))]
    public async Task Concurrent_sequences_with_shared_prefixes_each_get_the_cold_result(OnnxGraphForm form)
    {
        using var warm = Load(form);
        using var cold = Load(form, reuse: false);
        string[] prompts =
        [
            "Once upon a time, there was a little girl named Lily.",
            "Once upon a time, there was a little boy named Tim.",
            "Once upon a time, there was a big red ball.",
            "Once upon a time, there was a little girl named Lily. She had a cat.",
        ];
        var greedy = new GenerationOptions { Temperature = 0, MaxNewTokens = 20 };
        var expected = new List<IReadOnlyList<int>>();
        foreach (string prompt in prompts)
        {
            expected.Add((await cold.GenerateAsync(prompt, greedy)).TokenIds);
        }

        // Three rounds of all prompts at once: sequences take and return pooled states in arbitrary order.
        for (int round = 0; round < 3; round++)
        {
            var results = await Task.WhenAll(prompts.Select(p => Task.Run(() => warm.GenerateAsync(p, greedy))));
            for (int i = 0; i < prompts.Length; i++)
            {
                Assert.Equal(expected[i], results[i].TokenIds);
            }
        }
    }
}
