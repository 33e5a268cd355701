using System.Text;
using LlmKit.Generation;
using LlmKit.ModelBuilder;
using LlmKit.Models;
using LlmKit.Testing;

namespace LlmKit.Tests.Generation;

/// <summary>
/// Speculative decoding by prompt lookup gives exactly the tokens of plain decoding, on the real stories260K model in
/// both KV layouts (ping-pong buffers truncated by moving rows; one shared GQA buffer truncated by length) and on a
/// builder-made GQA model: with logits processors, across prompt-prefix reuse and concurrency, and with stop
/// sequences and token limits hit exactly.
/// </summary>
public class SpeculativeDecodingTests
{
    private const string Story = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends. One day, she saw a big red ball.";

    // The answer repeats the prompt, so drafts are accepted.
    private const string Rewriting = "Repeat the story: " + Story + "\nAgain: " + "Once upon a time, there was a little girl";

    private const string FreeContinuation = "Once upon a time";

    private static readonly PromptLookupOptions Lookup = new() { DraftTokens = 6, MaxNGram = 3, MinNGram = 1 };

    private static readonly LlamaConfig SyntheticShape = new(Dim: 64, HiddenDim: 96, Layers: 2, Heads: 4, KvHeads: 2, VocabSize: 300, SeqLen: 256);

    public static TheoryData<OnnxGraphForm> Forms => new() { OnnxGraphForm.Standard, OnnxGraphForm.OrtGenAI };

    public static TheoryData<OnnxGraphForm, string> FormsAndPrompts => new()
    {
        { OnnxGraphForm.Standard, Rewriting },
        { OnnxGraphForm.OrtGenAI, Rewriting },
        { OnnxGraphForm.Standard, FreeContinuation },
        { OnnxGraphForm.OrtGenAI, FreeContinuation },
    };

    private static OnnxGenAIModel Load(string folder) => OnnxGenAIModel.Load(folder, new OnnxGenAIModelOptions { IntraOpThreads = 1 });

    private static OnnxGenAIModel LoadStories(OnnxGraphForm form) => Load(TestModels.Stories260KFolderFor(form));

    [Theory]
    [MemberData(nameof(FormsAndPrompts))]
    public async Task Greedy_output_is_identical_and_survives_prompt_prefix_reuse(OnnxGraphForm form, string prompt)
    {
        using var model = LoadStories(form);
        var plain = new GenerationOptions { Temperature = 0, MaxNewTokens = 120 };
        var speculative = plain with { PromptLookup = Lookup };

        var expected = await model.GenerateAsync(prompt, plain);
        var first = await model.GenerateAsync(prompt, speculative);   // reuses the prompt's KV left by the plain run
        var second = await model.GenerateAsync(prompt, speculative);  // reuses the KV a speculative run left

        Assert.Equal(expected.TokenIds, first.TokenIds);
        Assert.Equal(expected.TokenIds, second.TokenIds);
        Assert.Equal(expected.Text, first.Text);
        Assert.Equal(expected.FinishReason, first.FinishReason);
        Assert.True(first.CachedPromptTokenCount > 0);
        Assert.Equal(0, expected.DraftedTokenCount);
        Assert.True(first.DraftedTokenCount > 0);
        Assert.True(first.AcceptedDraftTokenCount > 0, $"no draft accepted ({first.DraftedTokenCount} drafted): the test would prove nothing");
        Assert.InRange(first.AcceptedDraftTokenCount, 1, first.DraftedTokenCount);
    }

    [Fact]
    public async Task The_rewriting_prompt_accepts_most_drafts_and_saves_model_runs()
    {
        using var model = LoadStories(OnnxGraphForm.OrtGenAI);
        int[] prompt = model.Tokenizer.Encode(Rewriting);
        using var generator = model.CreateGenerator(prompt, new GenerationOptions { Temperature = 0, MaxNewTokens = 60, PromptLookup = Lookup });
        while (!generator.IsDone)
        {
            generator.GenerateNextToken();
        }

        Assert.True(generator.ModelRuns < generator.GeneratedCount, $"{generator.ModelRuns} runs for {generator.GeneratedCount} tokens");
        Assert.True(generator.AcceptedDraftTokens >= generator.GeneratedCount - generator.ModelRuns);
    }

    [Theory]
    [MemberData(nameof(Forms))]
    public async Task Logits_processors_see_the_right_history_at_every_verified_position(OnnxGraphForm form)
    {
        using var model = LoadStories(form);
        GenerationOptions[] variants =
        [
            new() { Temperature = 0, MaxNewTokens = 100, RepetitionPenalty = 1.3f },
            new() { Temperature = 0, MaxNewTokens = 100, NoRepeatNGramSize = 3 },
            new() { Temperature = 0, MaxNewTokens = 100, MinNewTokens = 90, RepetitionPenalty = 1.1f, NoRepeatNGramSize = 4 },
            new() { Temperature = 0, MaxNewTokens = 100, FrequencyPenalty = 0.5f, PresencePenalty = 0.3f },
        ];
        int accepted = 0;
        foreach (var options in variants)
        {
            foreach (string prompt in new[] { Rewriting, FreeContinuation })
            {
                var expected = await model.GenerateAsync(prompt, options);
                var actual = await model.GenerateAsync(prompt, options with { PromptLookup = Lookup });
                Assert.Equal(expected.TokenIds, actual.TokenIds);
                Assert.Equal(expected.FinishReason, actual.FinishReason);
                accepted += actual.AcceptedDraftTokenCount;
            }
        }

        Assert.True(accepted > 0);
    }

    [Fact]
    public async Task Sampling_with_a_seed_draws_the_same_tokens_as_without_speculation()
    {
        // Each verified position draws once from the same processed distribution, in the same order as plain decoding:
        // accepting a draft only when the draw equals it is the standard rule for a point-mass draft.
        using var model = LoadStories(OnnxGraphForm.OrtGenAI);
        var options = new GenerationOptions { Temperature = 0.8f, TopK = 40, TopP = 0.95f, Seed = 7, MaxNewTokens = 100 };
        var expected = await model.GenerateAsync(Rewriting, options);
        var actual = await model.GenerateAsync(Rewriting, options with { PromptLookup = Lookup });
        Assert.Equal(expected.TokenIds, actual.TokenIds);
        Assert.True(actual.AcceptedDraftTokenCount > 0);
    }

    [Fact]
    public async Task Four_concurrent_speculative_generations_equal_sequential_plain_ones()
    {
        using var model = LoadStories(OnnxGraphForm.OrtGenAI);
        string[] prompts = [Rewriting, FreeContinuation, "Tom had a dog named Max. Tom had a dog named", Story + " " + Story[..40]];
        var plain = new GenerationOptions { Temperature = 0, MaxNewTokens = 80 };
        var expected = new List<GenerationResult>();
        foreach (string prompt in prompts)
        {
            expected.Add(await model.GenerateAsync(prompt, plain));
        }

        var actual = await Task.WhenAll(prompts.Select(p => model.GenerateAsync(p, plain with { PromptLookup = Lookup })));
        for (int i = 0; i < prompts.Length; i++)
        {
            Assert.Equal(expected[i].TokenIds, actual[i].TokenIds);
        }

        Assert.True(actual.Sum(r => r.AcceptedDraftTokenCount) > 0);
    }

    [Theory]
    [MemberData(nameof(Forms))]
    public async Task Max_new_tokens_is_hit_exactly_at_every_limit(OnnxGraphForm form)
    {
        using var model = LoadStories(form);
        var full = await model.GenerateAsync(Rewriting, new GenerationOptions { Temperature = 0, MaxNewTokens = 40 });
        for (int limit = 1; limit <= 40; limit += 3)
        {
            var options = new GenerationOptions { Temperature = 0, MaxNewTokens = limit, PromptLookup = Lookup };
            var result = await model.GenerateAsync(Rewriting, options);
            Assert.Equal(full.TokenIds.Take(limit), result.TokenIds);
            Assert.Equal(limit, result.GeneratedTokenCount);
            Assert.Equal(GenerationFinishReason.MaxNewTokens, result.FinishReason);
        }
    }

    [Theory]
    [MemberData(nameof(Forms))]
    public async Task Streaming_emits_one_update_per_token_and_stops_exactly_at_a_stop_sequence(OnnxGraphForm form)
    {
        using var model = LoadStories(form);
        var plain = new GenerationOptions { Temperature = 0, MaxNewTokens = 100 };
        var whole = await model.GenerateAsync(Rewriting, plain);

        // A stop sequence from the middle of the plain answer: both runs must end at the same text.
        string stop = whole.Text.Substring(whole.Text.Length / 2, 6);
        var stopped = await model.GenerateAsync(Rewriting, plain with { StopSequences = [stop] });
        Assert.Equal(GenerationFinishReason.StopSequence, stopped.FinishReason);

        var streamed = new StringBuilder();
        var tokens = new List<int>();
        GenerationUpdate? last = null;
        await foreach (var update in model.GenerateStreamingAsync(Rewriting, plain with { StopSequences = [stop], PromptLookup = Lookup }))
        {
            streamed.Append(update.Text);
            tokens.Add(update.TokenId);
            Assert.Equal(tokens.Count, update.GeneratedTokenCount);
            last = update;
        }

        Assert.Equal(stopped.Text, streamed.ToString());
        Assert.Equal(stopped.TokenIds, tokens);
        Assert.Equal(GenerationFinishReason.StopSequence, last!.FinishReason);
        Assert.DoesNotContain(stop, streamed.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Forms))]
    public async Task A_builder_made_gqa_model_gives_identical_greedy_output(OnnxGraphForm form)
    {
        using var model = Load(TestModels.Synthetic(SyntheticShape, seed: 16, form));
        var random = new Random(16);
        int[] passage = [.. Enumerable.Range(0, 40).Select(_ => random.Next(3, SyntheticShape.VocabSize))];

        // Rewriting: the passage, a separator, then its first tokens again; free: a short random prompt.
        int[][] prompts = [[1, .. passage, 2, .. passage[..6]], [1, .. passage[..5]]];
        int accepted = 0;
        foreach (int[] prompt in prompts)
        {
            var plain = new GenerationOptions { Temperature = 0, MaxNewTokens = 100, MinNewTokens = 100 };
            var expected = await model.GenerateAsync(prompt, plain);
            var actual = await model.GenerateAsync(prompt, plain with { PromptLookup = Lookup });
            Assert.Equal(expected.TokenIds, actual.TokenIds);
            accepted += actual.AcceptedDraftTokenCount;
        }

        Assert.True(accepted > 0);
    }

    [Fact]
    public async Task A_sliding_window_model_ignores_the_setting_and_generates_the_same_tokens()
    {
        // Positions that slid out of the window cannot be rolled back, so the generator does not speculate there.
        using var folder = TempModelFolder.CopyOf(TestModels.Synthetic(SyntheticShape, seed: 16, OnnxGraphForm.Standard));
        folder.EditConfig(c => c["model"]!["decoder"]!["sliding_window"] = new System.Text.Json.Nodes.JsonObject { ["window_size"] = 16 });
        using var model = Load(folder.Path);
        int[] prompt = [1, 5, 6, 7, 8, 5, 6, 7];
        var plain = new GenerationOptions { Temperature = 0, MaxNewTokens = 60, MinNewTokens = 60 };
        var expected = await model.GenerateAsync(prompt, plain);
        var actual = await model.GenerateAsync(prompt, plain with { PromptLookup = Lookup });
        Assert.Equal(expected.TokenIds, actual.TokenIds);
        Assert.Equal(60, actual.GeneratedTokenCount);
        Assert.Equal(0, actual.DraftedTokenCount);
    }

    [Fact]
    public void The_drafter_proposes_what_followed_the_latest_longest_match_and_adapts_its_length()
    {
        var drafter = new PromptLookupDrafter(new PromptLookupOptions { DraftTokens = 4, MaxNGram = 2, MinNGram = 1 });
        Span<int> drafts = stackalloc int[4];

        // "7 8" occurs at 1 (followed by 9 1 2 3) and at 6 (followed by 5 7 8): the bigram match wins over the later
        // unigram "8", and the earlier bigram occurrence wins because the latest one is followed by only 3 tokens.
        int[] sequence = [0, 7, 8, 9, 1, 2, 7, 8, 5, 7, 8];
        Assert.Equal(4, drafter.Draft(sequence, drafts));
        Assert.Equal([9, 1, 2, 7], drafts.ToArray());

        Assert.Equal(0, drafter.Draft([1, 2, 3, 4], drafts));
        Assert.Equal(2, drafter.Draft([5, 6, 5], drafts[..2]));
        Assert.Equal([6, 5], drafts[..2].ToArray());

        drafter.Record(drafted: 4, accepted: 0);
        Assert.Equal(1, drafter.NextLength);
        drafter.Record(drafted: 1, accepted: 1);
        Assert.Equal(3, drafter.NextLength);
        drafter.Record(drafted: 3, accepted: 3);
        Assert.Equal(4, drafter.NextLength);
    }

    [Fact]
    public void A_speculative_decode_allocates_under_1_KB_per_token()
    {
        using var model = LoadStories(OnnxGraphForm.OrtGenAI);
        int[] prompt = model.Tokenizer.Encode(Rewriting);
        var options = new GenerationOptions { Temperature = 0, MaxNewTokens = 100, MinNewTokens = 100, PromptLookup = Lookup };
        SpeculativeAllocation.AssertUnder1KbPerToken(model, prompt, options);
    }

    [Fact]
    public void Settings_out_of_range_name_the_setting()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new GenerationOptions { PromptLookup = new() { DraftTokens = 0 } }.Validate());
        Assert.Equal("DraftTokens", ex.ParamName);
        ex = Assert.Throws<ArgumentOutOfRangeException>(() => new GenerationOptions { PromptLookup = new() { MinNGram = 4, MaxNGram = 3 } }.Validate());
        Assert.Equal("MinNGram", ex.ParamName);
    }
}
