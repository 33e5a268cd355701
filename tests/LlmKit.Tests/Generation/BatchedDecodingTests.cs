using LlmKit.Generation;
using LlmKit.Generation.Batching;
using LlmKit.ModelBuilder;
using LlmKit.Models;
using LlmKit.Testing;

namespace LlmKit.Tests.Generation;

/// <summary>
/// Batched decoding gives every request the tokens it gets alone: on the real stories260K model (official GQA form,
/// fp32, rotary outside the attention with position_ids) and on a builder-made int4 model (MatMulNBits, GQA with fused
/// rotary and fewer KV heads than query heads). The reference is a plain <see cref="Generator"/> run on its own. A
/// scheduler without a thread is driven step by step, so joins, finishes and cancellations land at chosen steps.
/// </summary>
public class BatchedDecodingTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private static readonly LlamaConfig Int4Shape = new(Dim: 128, HiddenDim: 256, Layers: 2, Heads: 4, KvHeads: 2, VocabSize: 300, SeqLen: 256);

    private static readonly string[] StoryPrompts =
    [
        "Once upon a time",
        "Lily and Tom went to the park. They saw a big dog",
        "One day, a little bird",
        "The sun was shining and the children were playing outside in the garden with their ball",
        "Tim had a red car",
    ];

    public static TheoryData<string> Models => new() { "stories260K", "int4" };

    /// <summary>Prefix reuse off: a reused prefix was computed in a differently shaped run (see its own remarks).</summary>
    private static OnnxGenAIModel Load(string name, int maxBatchSize = 8, bool reuse = false, int threads = 1)
    {
        string folder = name == "int4"
            ? SyntheticInt4Folder()
            : TestModels.Stories260KFolderFor(OnnxGraphForm.OrtGenAI);
        return OnnxGenAIModel.Load(folder, new OnnxGenAIModelOptions { IntraOpThreads = threads, MaxBatchSize = maxBatchSize, ReusePromptPrefixes = reuse });
    }

    private static string SyntheticInt4Folder()
    {
        var (checkpoint, tokenizer) = TestModels.SyntheticCheckpoint(Int4Shape, seed: 16);
        return TestModels.Folder(checkpoint, tokenizer, OnnxGraphForm.OrtGenAI, WeightPrecision.Int4);
    }

    private static int[][] Prompts(OnnxGenAIModel model, string name)
    {
        if (name == "int4")
        {
            // Random weights: prompts of random ids, of different lengths.
            var random = new Random(4);
            return [.. new[] { 3, 17, 9, 40, 1, 25 }.Select(n => (int[])[1, .. Enumerable.Range(0, n).Select(_ => random.Next(3, model.VocabularySize))])];
        }

        return [.. StoryPrompts.Select(p => model.Tokenizer.Encode(p))];
    }

    private static (int[] Tokens, GenerationFinishReason Reason) Alone(OnnxGenAIModel model, int[] prompt, GenerationOptions options)
    {
        using var generator = model.CreateGenerator(prompt, options);
        while (!generator.IsDone)
        {
            generator.GenerateNextToken();
        }

        return (generator.GeneratedTokens.ToArray(), generator.FinishReason!.Value);
    }

    private sealed record Plan(int[] Prompt, GenerationOptions Options, int StartStep, int CancelStep = -1)
    {
        public BatchedSequence? Sequence { get; set; }

        public CancellationTokenSource Cancellation { get; } = new();
    }

    /// <summary>Runs the plans on a thread-less scheduler: submits and cancels at the planned steps; returns the largest batch seen.</summary>
    private static int Drive(OnnxGenAIModel model, BatchScheduler scheduler, IReadOnlyList<Plan> plans)
    {
        int largest = 0;
        for (int step = 0; ; step++)
        {
            foreach (var plan in plans)
            {
                if (plan.StartStep == step)
                {
                    plan.Sequence = model.Submit(scheduler, plan.Prompt, plan.Options, plan.Cancellation.Token);
                }

                if (plan.CancelStep == step)
                {
                    plan.Cancellation.Cancel();
                }
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

    private static async Task<(List<int> Tokens, GenerationFinishReason? Reason, bool Cancelled)> Drain(BatchedSequence sequence)
    {
        var tokens = new List<int>();
        try
        {
            while (!sequence.IsDone)
            {
                tokens.Add(await sequence.NextAsync(CancellationToken.None));
            }
        }
        catch (OperationCanceledException)
        {
            return (tokens, null, true);
        }

        return (tokens, sequence.FinishReason, false);
    }

    [Theory]
    [MemberData(nameof(Models))]
    public async Task Greedy_ids_of_staggered_concurrent_generations_equal_each_run_alone(string name)
    {
        using var model = Load(name);
        Assert.Equal(8, model.MaxBatchSize);
        int[][] prompts = Prompts(model, name);

        // Different prompt lengths and token limits (early finishes), starts spread over the first steps, and one
        // generation cancelled half-way; a min length keeps the random model from stopping at once.
        var plans = prompts.Select((prompt, i) => new Plan(
            prompt,
            new GenerationOptions { Temperature = 0, MaxNewTokens = 12 + (17 * i % 50), MinNewTokens = name == "int4" ? 8 : null },
            StartStep: 3 * i,
            CancelStep: i == 1 ? 12 : -1)).ToList();

        using var scheduler = new BatchScheduler(model, model.MaxBatchSize, ownThread: false);
        int largest = Drive(model, scheduler, plans);
        Assert.True(largest >= 3, $"at most {largest} sequences were decoded together: the test would prove little");
        Assert.True(scheduler.DecodedRows > scheduler.DecodeRuns, "no decode run had more than one row");

        foreach (var plan in plans)
        {
            var (tokens, reason, cancelled) = await Drain(plan.Sequence!);
            var (expected, expectedReason) = Alone(model, plan.Prompt, plan.Options);
            if (plan.CancelStep >= 0)
            {
                Assert.True(cancelled, "the cancelled generation ran to its end");
                Assert.InRange(tokens.Count, 1, expected.Length - 1);
                Assert.Equal(expected[..tokens.Count], tokens);
            }
            else
            {
                Assert.False(cancelled);
                Assert.Equal(expected, tokens);
                Assert.Equal(expectedReason, reason);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Models))]
    public async Task Seeded_sampling_in_a_batch_equals_each_run_alone(string name)
    {
        using var model = Load(name);
        int[][] prompts = Prompts(model, name);
        var plans = prompts.Select((prompt, i) => new Plan(
            prompt,
            new GenerationOptions { Temperature = 0.9f, TopK = 40, TopP = 0.95f, Seed = 100 + i, MaxNewTokens = 30 + (5 * i), RepetitionPenalty = 1.1f },
            StartStep: i)).ToList();

        using var scheduler = new BatchScheduler(model, model.MaxBatchSize, ownThread: false);
        Drive(model, scheduler, plans);
        foreach (var plan in plans)
        {
            var (tokens, reason, _) = await Drain(plan.Sequence!);
            var (expected, expectedReason) = Alone(model, plan.Prompt, plan.Options);
            Assert.Equal(expected, tokens);
            Assert.Equal(expectedReason, reason);
        }
    }

    public static TheoryData<string, int> ModelsAndThreads => new() { { "stories260K", 1 }, { "int4", 1 }, { "stories260K", 2 }, { "int4", 2 } };

    [Theory]
    [MemberData(nameof(ModelsAndThreads))]
    public void Logits_of_a_batched_step_equal_the_logits_of_each_row_run_alone(string name, int threads)
    {
        using var model = Load(name, threads: threads);
        int[][] prompts = Prompts(model, name);
        int vocab = model.VocabularySize;
        using var decoder = new BatchedDecoder(model, prompts.Length);
        var alone = new List<DecoderState>();
        try
        {
            foreach (int[] prompt in prompts)
            {
                var state = new DecoderState(model);
                alone.Add(state);
                state.Append(prompt, default);
                decoder.AddRow(state);
            }

            // Ten steps, each row fed a different token; every row's logits compared with its own batch-1 step.
            var random = new Random(7);
            int[] feed = new int[prompts.Length];
            float worst = 0;
            for (int step = 0; step < 10; step++)
            {
                for (int r = 0; r < feed.Length; r++)
                {
                    feed[r] = random.Next(3, vocab);
                }

                float[] batched = decoder.Step(feed, default).ToArray();
                for (int r = 0; r < feed.Length; r++)
                {
                    var single = alone[r].Append([feed[r]], default);
                    for (int v = 0; v < vocab; v++)
                    {
                        worst = Math.Max(worst, Math.Abs(single[v] - batched[(r * vocab) + v]));
                    }
                }
            }

            // Bit-identical on ONNX Runtime's CPU kernels here (each row's dot products keep their order whatever the
            // batch size); the assertion is exact so a kernel that changes that shows up as a failure, not as drift.
            Assert.Equal(0f, worst);
        }
        finally
        {
            foreach (var state in alone)
            {
                state.Dispose();
            }
        }
    }

    [Fact]
    public async Task More_requests_than_rows_wait_their_turn_and_still_match()
    {
        using var model = Load("stories260K", maxBatchSize: 2);
        int[][] prompts = Prompts(model, "stories260K");
        var options = new GenerationOptions { Temperature = 0, MaxNewTokens = 20 };
        var plans = prompts.Select(p => new Plan(p, options, StartStep: 0)).ToList();

        using var scheduler = new BatchScheduler(model, model.MaxBatchSize, ownThread: false);
        Assert.Equal(2, Drive(model, scheduler, plans));
        foreach (var plan in plans)
        {
            var (tokens, _, _) = await Drain(plan.Sequence!);
            Assert.Equal(Alone(model, plan.Prompt, options).Tokens, tokens);
        }
    }

    [Fact]
    public async Task Concurrent_GenerateAsync_calls_share_decode_runs_and_return_what_each_gets_alone()
    {
        using var model = Load("stories260K");
        using var alone = Load("stories260K", maxBatchSize: 1);
        Assert.Equal(1, alone.MaxBatchSize);
        int[][] prompts = Prompts(model, "stories260K");
        var options = new GenerationOptions { Temperature = 0, MaxNewTokens = 60, StopSequences = ["dog."] };

        var batched = await Task.WhenAll(prompts.Select(p => model.GenerateAsync(p, options)));
        for (int i = 0; i < prompts.Length; i++)
        {
            var expected = await alone.GenerateAsync(prompts[i], options);
            Assert.Equal(expected.TokenIds, batched[i].TokenIds);
            Assert.Equal(expected.Text, batched[i].Text);
            Assert.Equal(expected.FinishReason, batched[i].FinishReason);
        }

        Assert.True(model.Scheduler().DecodedRows > model.Scheduler().DecodeRuns, "the concurrent requests never shared a decode run");
    }

    [Fact]
    public async Task Streaming_requests_batch_and_cancelling_one_leaves_the_others_intact()
    {
        using var model = Load("stories260K");
        int[][] prompts = Prompts(model, "stories260K");
        var options = new GenerationOptions { Temperature = 0, MaxNewTokens = 80, MinNewTokens = 80 };
        using var cancel = new CancellationTokenSource();

        async Task<List<int>> Stream(int[] prompt, bool cancelAfter10)
        {
            var tokens = new List<int>();
            await foreach (var update in model.GenerateStreamingAsync(prompt, options, cancelAfter10 ? cancel.Token : default))
            {
                tokens.Add(update.TokenId);
                if (cancelAfter10 && tokens.Count == 10)
                {
                    await cancel.CancelAsync();
                }
            }

            return tokens;
        }

        var cancelled = Stream(prompts[0], cancelAfter10: true);
        var others = prompts.Skip(1).Select(p => Stream(p, cancelAfter10: false)).ToArray();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        var results = await Task.WhenAll(others);
        for (int i = 0; i < results.Length; i++)
        {
            Assert.Equal(Alone(model, prompts[i + 1], options).Tokens, results[i]);
        }
    }

    [Fact]
    public async Task A_finished_batched_sequence_leaves_its_kv_for_the_next_chat_turn()
    {
        using var model = Load("stories260K", reuse: true);
        var options = new GenerationOptions { Temperature = 0, MaxNewTokens = 20 };
        int[] turn1 = model.Tokenizer.Encode("Once upon a time");
        var first = await model.GenerateAsync(turn1, options);

        int[] turn2 = [.. turn1, .. first.TokenIds, .. model.Tokenizer.Encode(" Then", addBos: false)];
        var second = await model.GenerateAsync(turn2, options);

        // Everything the first sequence fed (prompt and all generated tokens but the last) came back from the batch.
        Assert.Equal(turn1.Length + first.TokenIds.Count - 1, second.CachedPromptTokenCount);
        using var cold = Load("stories260K", maxBatchSize: 1);
        Assert.Equal((await cold.GenerateAsync(turn2, options)).TokenIds, second.TokenIds);
    }

    [Fact]
    public void Forms_without_shared_gqa_buffers_and_the_off_switch_do_not_batch()
    {
        using var standard = OnnxGenAIModel.Load(TestModels.Stories260KFolder, new OnnxGenAIModelOptions { IntraOpThreads = 1 });
        Assert.Equal(1, standard.MaxBatchSize);
        using var off = Load("stories260K", maxBatchSize: 1);
        Assert.Equal(1, off.MaxBatchSize);
        using var source = off.CreateTokenSource([1, 2, 3], null, default);
        Assert.False(source.UsesBatching);

        using var on = Load("stories260K");
        using var speculative = on.CreateTokenSource([1, 2, 3], new GenerationOptions { PromptLookup = new PromptLookupOptions() }, default);
        Assert.False(speculative.UsesBatching);
        using var batched = on.CreateTokenSource([1, 2, 3], null, default);
        Assert.True(batched.UsesBatching);

        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => OnnxGenAIModel.Load(TestModels.Stories260KFolder, new OnnxGenAIModelOptions { MaxBatchSize = 0 }));
        Assert.Equal("MaxBatchSize", ex.ParamName);
    }

    [Theory]
    [MemberData(nameof(Models))]
    public async Task A_batched_decode_step_allocates_under_1_KB_per_token(string name)
    {
        using var model = Load(name);
        int[][] prompts = Prompts(model, name);
        var options = new GenerationOptions { Temperature = 0, MaxNewTokens = 120, MinNewTokens = 120 };
        using var scheduler = new BatchScheduler(model, model.MaxBatchSize, ownThread: false);
        for (int round = 0; round < 2; round++)
        {
            // Round 0 warms up (JIT, bindings of every batch size); round 1 is measured once every sequence has joined.
            var sequences = prompts.Select(p => model.Submit(scheduler, p, options, default)).ToList();
            while (scheduler.ActiveRows < prompts.Length)
            {
                scheduler.RunOnce();
            }

            long runs = scheduler.DecodedRows;
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int step = 0; step < 60; step++)
            {
                scheduler.RunOnce();
            }

            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            long tokens = scheduler.DecodedRows - runs;
            Assert.Equal(60 * prompts.Length, tokens);
            if (round == 1)
            {
                output.WriteLine($"{name}: {allocated / (double)tokens:F1} managed bytes per token over {tokens} batched tokens");
                Assert.InRange(allocated / tokens, 0, 1024);
            }

            while (scheduler.RunOnce())
            {
            }

            foreach (var sequence in sequences)
            {
                Assert.Equal(120, (await Drain(sequence)).Tokens.Count);
            }
        }
    }
}
