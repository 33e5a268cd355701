using LlmKit.Generation;
using LlmKit.Generation.Batching;
using LlmKit.Generation.Constraints;
using LlmKit.ModelBuilder;
using LlmKit.Models;
using LlmKit.Testing;
using LlmKit.Tests.Generation.Constraints;

namespace LlmKit.Tests.Generation;

/// <summary>
/// Constrained requests (<see cref="GenerationOptions.Constraint"/>) in the batch scheduler get exactly what a
/// <see cref="Generator"/> for the same prompt and options returns: the same values from each call (-1 included when
/// the constraint allows nothing), the same generated tokens, count and finish reason. On stories260K in the batchable
/// (official GQA) form, with a thread-less scheduler driven step by step so starts and finishes land at chosen steps.
/// </summary>
public class ConstrainedBatchingTests
{
    private const string Sentences = @"([A-Z][a-z]+ )+[a-z]+\.";

    private static readonly string[] StoryPrompts =
    [
        "Once upon a time",
        "Lily and Tom went to the park. They saw a big dog",
        "One day, a little bird",
        "The sun was shining and the children were playing outside in the garden with their ball",
        "Tim had a red car",
        "The cat",
    ];

    /// <summary>Prefix reuse off, as in <see cref="BatchedDecodingTests"/>: a reused prefix comes from a differently shaped run.</summary>
    private static OnnxGenAIModel Load() =>
        OnnxGenAIModel.Load(
            TestModels.Stories260KFolderFor(OnnxGraphForm.OrtGenAI),
            new OnnxGenAIModelOptions { IntraOpThreads = 1, MaxBatchSize = 8, ReusePromptPrefixes = false });

    private sealed record Plan(string Prompt, GenerationOptions Options, int StartStep)
    {
        public BatchedSequence? Sequence { get; set; }
    }

    /// <summary>What a consumer saw: every value returned, then the source's generated tokens, count and finish reason.</summary>
    private sealed record Seen(int[] Returned, int[] Generated, int Count, GenerationFinishReason? Reason);

    private static Seen Alone(OnnxGenAIModel model, Plan plan)
    {
        using var generator = model.CreateGenerator(model.Tokenizer.Encode(plan.Prompt), plan.Options);
        var returned = new List<int>();
        while (!generator.IsDone)
        {
            returned.Add(generator.GenerateNextToken());
        }

        return new Seen([.. returned], generator.GeneratedTokens.ToArray(), generator.GeneratedCount, generator.FinishReason);
    }

    private static async Task<Seen> Drain(ITokenSource source)
    {
        var returned = new List<int>();
        while (!source.IsDone)
        {
            returned.Add(await source.NextAsync(CancellationToken.None));
        }

        return new Seen([.. returned], source.GeneratedTokens.ToArray(), source.GeneratedCount, source.FinishReason);
    }

    /// <summary>Submits each plan at its step and runs the scheduler until idle; returns the largest batch seen.</summary>
    private static int Drive(OnnxGenAIModel model, BatchScheduler scheduler, IReadOnlyList<Plan> plans)
    {
        int largest = 0;
        for (int step = 0; ; step++)
        {
            foreach (var plan in plans.Where(p => p.StartStep == step))
            {
                plan.Sequence = model.Submit(scheduler, model.Tokenizer.Encode(plan.Prompt), plan.Options, default);
            }

            bool worked = scheduler.RunOnce();
            largest = Math.Max(largest, scheduler.ActiveRows);
            if (!worked && plans.All(p => p.StartStep <= step))
            {
                return largest;
            }

            Assert.True(step < 10_000, "the scheduler never went idle");
        }
    }

    /// <summary>Drives the plans in one batch and checks every sequence against its run alone; returns what each saw.</summary>
    private static async Task<Seen[]> AssertBatchedEqualsAlone(OnnxGenAIModel model, IReadOnlyList<Plan> plans, int minimumBatch)
    {
        using var scheduler = new BatchScheduler(model, model.MaxBatchSize, ownThread: false);
        int largest = Drive(model, scheduler, plans);
        Assert.True(largest >= minimumBatch, $"at most {largest} sequences were decoded together: the test would prove little");
        Assert.True(scheduler.DecodedRows > scheduler.DecodeRuns, $"no decode run had more than one row ({scheduler.DecodedRows} rows in {scheduler.DecodeRuns} runs)");

        var seen = new Seen[plans.Count];
        for (int i = 0; i < plans.Count; i++)
        {
            seen[i] = await Drain(plans[i].Sequence!);
            var expected = Alone(model, plans[i]);
            Assert.True(expected.Returned.SequenceEqual(seen[i].Returned), $"plan {i} ({plans[i].Options.Constraint}): batched [{string.Join(',', seen[i].Returned)}], alone [{string.Join(',', expected.Returned)}]");
            Assert.Equal(expected.Generated, seen[i].Generated);
            Assert.Equal(expected.Count, seen[i].Count);
            Assert.Equal(expected.Reason, seen[i].Reason);
        }

        return seen;
    }

    /// <summary>A nested JSON schema, a regex, a choice and no constraint, in turn, with token limits that differ, and two rows on a tight limit.</summary>
    private static List<Plan> MixedPlans(Func<int, GenerationOptions> options)
    {
        OutputConstraint?[] constraints =
        [
            OutputConstraint.JsonSchema(JsonSchemaConstraintTests.NestedSchema),
            OutputConstraint.Regex(Sentences),
            OutputConstraint.Choice(["cat", "dog", "bird", "a big red ball"]),
            null,
        ];

        List<Plan> plans = [.. Enumerable.Range(0, 8).Select(i => new Plan(
            StoryPrompts[i % StoryPrompts.Length],
            options(i) with { Constraint = constraints[i % constraints.Length] },
            StartStep: 2 * i))];

        // Tight limits, where the budget-aware mask decides: it must close the sentence (or the JSON) in time, so a
        // budget off by one changes the tokens.
        plans.Add(new Plan(StoryPrompts[1], options(8) with { MaxNewTokens = 9, Constraint = constraints[1] }, StartStep: 3));
        plans.Add(new Plan(StoryPrompts[2], options(9) with { MaxNewTokens = 70, Constraint = constraints[0] }, StartStep: 5));
        return plans;
    }

    [Fact]
    public async Task Greedy_constrained_and_free_requests_in_one_batch_equal_each_run_alone()
    {
        using var model = Load();

        // Limits from 10 to 150 new tokens: some rows end on the limit (the budget-aware mask closes the JSON early),
        // choices end after a few tokens, and rows keep joining while others leave.
        var plans = MixedPlans(i => new GenerationOptions { Temperature = 0, MaxNewTokens = 10 + (47 * i % 150) });
        var seen = await AssertBatchedEqualsAlone(model, plans, minimumBatch: 4);
        Assert.Contains(seen, s => s.Reason == GenerationFinishReason.EndOfSequence);
        Assert.Contains(seen, s => s.Reason == GenerationFinishReason.MaxNewTokens);
    }

    [Fact]
    public async Task Seeded_sampling_of_constrained_and_free_requests_in_one_batch_equals_each_run_alone()
    {
        using var model = Load();
        var plans = MixedPlans(i => new GenerationOptions { Temperature = 0.9f, TopK = 40, TopP = 0.95f, Seed = 200 + i, RepetitionPenalty = 1.1f, MaxNewTokens = 40 + (13 * i) });
        await AssertBatchedEqualsAlone(model, plans, minimumBatch: 4);
    }

    [Fact]
    public async Task A_constraint_that_allows_nothing_ends_its_row_as_alone_and_the_others_go_on()
    {
        using var model = Load();

        // Mid-generation: after "Yes" only end of sequence is allowed, and min_tokens masks it (as in
        // ConstraintBehaviourTests.No_allowed_token_ends_with_ConstraintUnsatisfiable). At admission: an empty integer
        // range allows no first token. Both sit among free and JSON rows that run on well past them.
        var free = new GenerationOptions { Temperature = 0, MaxNewTokens = 40, MinNewTokens = 40 };
        var plans = new List<Plan>
        {
            new(StoryPrompts[0], free, StartStep: 0),
            new("The cat", new GenerationOptions { Temperature = 0, MaxNewTokens = 20, MinNewTokens = 10, Constraint = OutputConstraint.Literal("Yes") }, StartStep: 1),
            new(StoryPrompts[1], new GenerationOptions { Temperature = 0, MaxNewTokens = 60, Constraint = OutputConstraint.JsonSchema(JsonSchemaConstraintTests.NestedSchema) }, StartStep: 2),
            new("The cat", new GenerationOptions { Temperature = 0, MaxNewTokens = 20, Constraint = OutputConstraint.JsonSchema("""{"type":"integer","minimum":5,"maximum":3}""") }, StartStep: 3),
            new(StoryPrompts[2], free, StartStep: 4),
        };

        var seen = await AssertBatchedEqualsAlone(model, plans, minimumBatch: 3);

        var midway = seen[1];
        Assert.Equal(GenerationFinishReason.ConstraintUnsatisfiable, midway.Reason);
        Assert.Equal("Yes", model.Tokenizer.Decode(midway.Generated));
        Assert.Equal(-1, midway.Returned[^1]);
        Assert.Equal(midway.Generated, midway.Returned[..^1]);

        var atOnce = seen[3];
        Assert.Equal(GenerationFinishReason.ConstraintUnsatisfiable, atOnce.Reason);
        Assert.Equal([-1], atOnce.Returned);
        Assert.Equal(0, atOnce.Count);

        // The free rows ran on past the unsatisfiable row's end, to their full length.
        Assert.All([seen[0], seen[4]], s => Assert.Equal(40, s.Count));
        Assert.True(seen[0].Count > midway.Count);
    }

    [Fact]
    public async Task Unsatisfiable_requests_through_GenerateAsync_and_streaming_end_as_with_batching_off()
    {
        using var model = Load();
        using var off = OnnxGenAIModel.Load(
            TestModels.Stories260KFolderFor(OnnxGraphForm.OrtGenAI),
            new OnnxGenAIModelOptions { IntraOpThreads = 1, MaxBatchSize = 1, ReusePromptPrefixes = false });
        GenerationOptions[] cases =
        [
            new() { Temperature = 0, MaxNewTokens = 20, MinNewTokens = 10, Constraint = OutputConstraint.Literal("Yes") },
            new() { Temperature = 0, MaxNewTokens = 20, Constraint = OutputConstraint.JsonSchema("""{"type":"integer","minimum":5,"maximum":3}""") },
        ];

        foreach (var options in cases)
        {
            // Submitted while a free request runs, as a server would see it (the step-driven test above makes the overlap certain).
            var companion = model.GenerateAsync(StoryPrompts[1], new GenerationOptions { Temperature = 0, MaxNewTokens = 30, MinNewTokens = 30 });
            var batched = await model.GenerateAsync("The cat", options);
            var expected = await off.GenerateAsync("The cat", options);
            Assert.Equal(GenerationFinishReason.ConstraintUnsatisfiable, batched.FinishReason);
            Assert.Equal(expected.Text, batched.Text);
            Assert.Equal(expected.TokenIds, batched.TokenIds);
            Assert.Equal(30, (await companion).TokenIds.Count);

            var streamed = new List<GenerationUpdate>();
            await foreach (var update in model.GenerateStreamingAsync("The cat", options))
            {
                streamed.Add(update);
            }

            var streamedOff = new List<GenerationUpdate>();
            await foreach (var update in off.GenerateStreamingAsync("The cat", options))
            {
                streamedOff.Add(update);
            }

            Assert.Equal(streamedOff.Select(u => (u.Text, u.TokenId, u.GeneratedTokenCount, u.FinishReason)), streamed.Select(u => (u.Text, u.TokenId, u.GeneratedTokenCount, u.FinishReason)));
            Assert.Equal(GenerationFinishReason.ConstraintUnsatisfiable, streamed[^1].FinishReason);
        }

        Assert.True(model.Scheduler().DecodedRows > 0, "the requests did not go through the batch scheduler");
    }

    [Fact]
    public async Task Constrained_requests_through_the_model_go_to_the_shared_batch()
    {
        using var model = Load();
        var options = new GenerationOptions { Temperature = 0, MaxNewTokens = 30, Constraint = OutputConstraint.Regex(Sentences) };
        int[] prompt = model.Tokenizer.Encode(StoryPrompts[0]);
        using var source = model.CreateTokenSource(prompt, options, default);
        Assert.True(source.UsesBatching, "a constrained request did not go to the batch scheduler");

        var batched = await Drain(source);
        var alone = Alone(model, new Plan(StoryPrompts[0], options, 0));
        Assert.Equal(alone.Returned, batched.Returned);
        Assert.Equal(alone.Generated, batched.Generated);
        Assert.Equal(alone.Reason, batched.Reason);

        // Speculation still runs on its own, constrained or not.
        using var speculative = model.CreateTokenSource(prompt, options with { PromptLookup = new PromptLookupOptions() }, default);
        Assert.False(speculative.UsesBatching);
    }
}
