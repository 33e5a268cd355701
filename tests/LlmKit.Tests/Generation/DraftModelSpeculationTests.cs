using LlmKit.Generation;
using LlmKit.ModelBuilder;
using LlmKit.Models;
using LlmKit.Testing;

namespace LlmKit.Tests.Generation;

/// <summary>
/// Speculative decoding with a draft model gives exactly the tokens of plain decoding on the real stories260K model:
/// with a second load of stories260K as the draft (it agrees with the target, so nearly every draft is accepted) and
/// with a seeded random model of the same 512-token vocabulary (it disagrees, so drafts are rejected often and the
/// draft's KV is truncated back every step), across prompt-prefix reuse, 4 concurrent generations and seeded sampling.
/// A draft model with another vocabulary is refused.
/// </summary>
public class DraftModelSpeculationTests
{
    private const string Story = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends.";

    private static readonly string[] Prompts = ["Once upon a time", Story, "Tom had a dog named Max. One day", "The sun was"];

    // The random draft: stories260K's tokenizer with seeded random weights of another (smaller) shape.
    private static readonly LlamaConfig RandomDraftShape = new(Dim: 64, HiddenDim: 96, Layers: 2, Heads: 4, KvHeads: 2, VocabSize: 512, SeqLen: 256);

    private static OnnxGenAIModel Load(string folder) => OnnxGenAIModel.Load(folder, new OnnxGenAIModelOptions { IntraOpThreads = 1 });

    private static OnnxGenAIModel LoadRandomDraft()
    {
        var (checkpoint, _) = TestModels.SyntheticCheckpoint(RandomDraftShape, seed: 31);
        return Load(TestModels.Folder(checkpoint, SharedFixtures.Stories260KTokenizer, OnnxGraphForm.Standard));
    }

    public static TheoryData<bool> Drafts => new() { false, true };

    [Theory]
    [MemberData(nameof(Drafts))]
    public async Task Greedy_output_is_identical_and_survives_prompt_prefix_reuse(bool randomDraft)
    {
        using var target = Load(TestModels.Stories260KFolder);
        using var draft = randomDraft ? LoadRandomDraft() : Load(TestModels.Stories260KFolder);
        var plain = new GenerationOptions { Temperature = 0, MaxNewTokens = 100 };
        var speculative = plain with { DraftModel = new DraftModelOptions { Model = draft, DraftTokens = 5 } };
        int drafted = 0, accepted = 0;
        foreach (string prompt in Prompts)
        {
            var expected = await target.GenerateAsync(prompt, plain);
            var first = await target.GenerateAsync(prompt, speculative);   // the target reuses the plain run's prompt KV
            var second = await target.GenerateAsync(prompt, speculative);  // both models reuse a speculative run's KV
            Assert.Equal(expected.TokenIds, first.TokenIds);
            Assert.Equal(expected.TokenIds, second.TokenIds);
            Assert.Equal(expected.FinishReason, first.FinishReason);
            Assert.True(second.CachedPromptTokenCount > 0);
            drafted += first.DraftedTokenCount;
            accepted += first.AcceptedDraftTokenCount;
        }

        Assert.True(drafted > 0);
        if (randomDraft)
        {
            // Random weights seldom agree with the trained model: rejections (and so draft KV truncation) happen often.
            Assert.True(accepted < drafted / 2, $"{accepted} of {drafted} random drafts accepted: rejections were not exercised");
        }
        else
        {
            // The same weights choose the same arg-max; a few ties broken differently by the one-token draft runs and the
            // multi-token verification run (float rounding) may reject a draft, so 90% rather than all.
            Assert.True(accepted >= drafted * 9 / 10, $"only {accepted} of {drafted} drafts accepted from an identical draft model");
        }
    }

    [Fact]
    public async Task An_identical_draft_model_saves_target_runs()
    {
        using var target = Load(TestModels.Stories260KFolder);
        using var draft = Load(TestModels.Stories260KFolder);
        int[] prompt = target.Tokenizer.Encode(Story);
        var options = new GenerationOptions { Temperature = 0, MaxNewTokens = 60, MinNewTokens = 60, DraftModel = new() { Model = draft, DraftTokens = 4 } };
        using var generator = target.CreateGenerator(prompt, options);
        while (!generator.IsDone)
        {
            generator.GenerateNextToken();
        }

        Assert.Equal(60, generator.GeneratedCount);
        Assert.True(generator.ModelRuns <= generator.GeneratedCount / 2, $"{generator.ModelRuns} target runs for {generator.GeneratedCount} tokens");
    }

    [Fact]
    public void A_decode_with_a_draft_model_allocates_under_1_KB_per_token()
    {
        // The house limit for the decode loop, in the official (OrtGenAI) form as the prompt-lookup test measures it: the
        // draft's one-token steps allocate nothing, the target's multi-token verification run a little.
        string folder = TestModels.Stories260KFolderFor(OnnxGraphForm.OrtGenAI);
        using var target = Load(folder);
        using var draft = Load(folder);
        int[] prompt = target.Tokenizer.Encode(Story);
        var options = new GenerationOptions { Temperature = 0, MaxNewTokens = 100, MinNewTokens = 100, DraftModel = new() { Model = draft, DraftTokens = 4 } };
        SpeculativeAllocation.AssertUnder1KbPerToken(target, prompt, options);
    }

    [Theory]
    [MemberData(nameof(Drafts))]
    public async Task Four_concurrent_generations_sharing_one_draft_model_equal_sequential_plain_ones(bool randomDraft)
    {
        using var target = Load(TestModels.Stories260KFolder);
        using var draft = randomDraft ? LoadRandomDraft() : Load(TestModels.Stories260KFolder);
        var plain = new GenerationOptions { Temperature = 0, MaxNewTokens = 80 };
        var expected = new List<GenerationResult>();
        foreach (string prompt in Prompts)
        {
            expected.Add(await target.GenerateAsync(prompt, plain));
        }

        var speculative = plain with { DraftModel = new DraftModelOptions { Model = draft, DraftTokens = 4 } };
        var actual = await Task.WhenAll(Prompts.Select(p => Task.Run(() => target.GenerateAsync(p, speculative))));
        for (int i = 0; i < Prompts.Length; i++)
        {
            Assert.Equal(expected[i].TokenIds, actual[i].TokenIds);
        }

        Assert.True(actual.Sum(r => r.DraftedTokenCount) > 0);
    }

    [Theory]
    [MemberData(nameof(Drafts))]
    public async Task Sampling_with_a_seed_draws_the_same_tokens_as_without_a_draft_model(bool randomDraft)
    {
        // Greedy drafts are point masses: each verified position draws once from the target's processed distribution, in
        // plain decoding's order, and a draft is accepted only when the draw equals it (the standard rule for a point mass).
        using var target = Load(TestModels.Stories260KFolder);
        using var draft = randomDraft ? LoadRandomDraft() : Load(TestModels.Stories260KFolder);
        var options = new GenerationOptions { Temperature = 0.8f, TopK = 40, TopP = 0.95f, RepetitionPenalty = 1.1f, Seed = 11, MaxNewTokens = 100 };
        foreach (string prompt in Prompts)
        {
            var expected = await target.GenerateAsync(prompt, options);
            var actual = await target.GenerateAsync(prompt, options with { DraftModel = new() { Model = draft, DraftTokens = 4 } });
            Assert.Equal(expected.TokenIds, actual.TokenIds);
            Assert.True(actual.DraftedTokenCount > 0);
        }
    }

    [Fact]
    public void The_drafter_realigns_its_kept_state_with_a_sequence_that_diverged_or_shrank()
    {
        // What a drafter keeping its KV state across calls drafts must equal what a fresh drafter drafts from the whole
        // sequence: after a rejection (the sequence continues with another token than the draft) and after a cut back.
        using var draft = Load(TestModels.Stories260KFolder);
        var options = new DraftModelOptions { Model = draft, DraftTokens = 4 };
        int[] prompt = draft.Tokenizer.Encode(Story);
        using var kept = new DraftModelDrafter(options, prompt);
        var drafts = new int[4];
        Assert.Equal(4, kept.Draft(prompt, drafts, default));
        int[] diverged = [.. prompt, drafts[0], (drafts[1] + 1) % draft.VocabularySize, 300];
        int[] shrunk = prompt[..^5];
        foreach (int[] sequence in new[] { diverged, shrunk, diverged })
        {
            var expected = new int[4];
            using (var fresh = new DraftModelDrafter(options, [sequence[0]]))
            {
                Assert.Equal(4, fresh.Draft(sequence, expected, default));
            }

            Assert.Equal(4, kept.Draft(sequence, drafts, default));
            Assert.Equal(expected, drafts);
        }
    }

    [Fact]
    public void A_draft_model_with_another_vocabulary_size_is_refused()
    {
        using var target = Load(TestModels.Stories260KFolder);
        using var draft = Load(TestModels.Synthetic(RandomDraftShape with { VocabSize = 300 }, seed: 31));
        var ex = Assert.Throws<ArgumentException>(() => target.CreateGenerator([1, 2, 3], new GenerationOptions { DraftModel = new() { Model = draft } }));
        Assert.Equal("DraftModel", ex.ParamName);
        Assert.Contains("300", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_draft_model_with_the_same_size_but_another_tokenizer_is_refused()
    {
        // The builder's synthetic tokenizer has 512 tokens too, but its ids stand for other bytes than stories260K's.
        using var target = Load(TestModels.Stories260KFolder);
        using var draft = Load(TestModels.Synthetic(RandomDraftShape, seed: 31));
        Assert.Equal(target.VocabularySize, draft.VocabularySize);
        var options = new GenerationOptions { DraftModel = new() { Model = draft } };
        var ex = await Assert.ThrowsAsync<ArgumentException>(() => target.GenerateAsync("Once upon a time", options));
        Assert.Equal("DraftModel", ex.ParamName);
        Assert.Contains("differs", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Settings_out_of_range_or_combined_with_prompt_lookup_name_the_setting()
    {
        using var draft = Load(TestModels.Stories260KFolder);
        var range = Assert.Throws<ArgumentOutOfRangeException>(() => new GenerationOptions { DraftModel = new() { Model = draft, DraftTokens = 0 } }.Validate());
        Assert.Equal("DraftTokens", range.ParamName);
        var both = Assert.Throws<ArgumentException>(() => new GenerationOptions { DraftModel = new() { Model = draft }, PromptLookup = new() }.Validate());
        Assert.Equal("DraftModel", both.ParamName);
    }
}
