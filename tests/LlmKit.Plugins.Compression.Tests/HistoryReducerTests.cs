using FsCheck.Xunit;
using LlmKit.Plugins.Compression.History;
using LlmKit.Plugins.Compression.Scoring;
using Microsoft.Extensions.AI;
using Moq;
using SK = Microsoft.SemanticKernel;
using static LlmKit.Plugins.Compression.Tests.HistoryFixtures;

namespace LlmKit.Plugins.Compression.Tests;

public sealed class HistoryReducerTests
{
    private static PromptCompressor FallbackCompressor() => new(new StatisticalTokenScorer(Tokenizer, ReviewText.Sentences.Take(300)));

    private static Mock<IChatClient> Summariser(List<string>? transcripts = null)
    {
        var client = new Mock<IChatClient>();
        int calls = 0;
        client.Setup(c => c.GetResponseAsync(It.IsAny<IEnumerable<ChatMessage>>(), It.IsAny<ChatOptions?>(), It.IsAny<CancellationToken>()))
            .Returns((IEnumerable<ChatMessage> messages, ChatOptions? _, CancellationToken _) =>
            {
                transcripts?.Add(messages.Last().Text);
                return Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, $"the user asked about tides and weather, round {++calls}.")));
            });
        return client;
    }

    public static TheoryData<string> Reducers => new() { "truncation", "compression", "summarization" };

    private static IChatReducer Create(string kind, int budget, bool reassert = false) => kind switch
    {
        "truncation" => new TokenBudgetTruncationReducer(Tokenizer, new HistoryReducerOptions { MaxTokens = budget, ReassertInstruction = reassert }),
        "compression" => new CompressingHistoryReducer(FallbackCompressor(), new CompressingHistoryReducerOptions { MaxTokens = budget, ReassertInstruction = reassert }),
        _ => new SummarizingHistoryReducer(Summariser().Object, Tokenizer, new SummarizingHistoryReducerOptions { MaxTokens = budget, ReassertInstruction = reassert }),
    };

    [Theory]
    [MemberData(nameof(Reducers))]
    public async Task System_instruction_survives_50_reductions_of_a_growing_conversation(string kind)
    {
        const int budget = 300;
        IChatReducer reducer = Create(kind, budget, reassert: true);
        var random = new Random(3);
        var history = new List<ChatMessage> { new(ChatRole.System, Instruction) };
        ChatMessage instruction = history[0];
        int reductions = 0;
        for (int round = 0; round < 50; round++)
        {
            history.AddRange(Turn(random, round));
            var reduced = (await reducer.ReduceAsync(history, CancellationToken.None)).ToList();
            bool changed = !reduced.SequenceEqual(history);
            history = reduced;

            Assert.Same(instruction, history[0]); // verbatim: the very same message object, first
            Assert.Equal(Instruction, history[0].Text);
            Assert.True(Count(history, new HistoryReducerOptions()) <= budget, $"round {round}: {Count(history, new HistoryReducerOptions())} tokens");
            Assert.True(history.Count(m => Tag(m) == HistoryTags.ReassertedInstruction) <= 1);
            if (changed)
            {
                // Each reduction re-asserts the instruction just before the latest user turn.
                reductions++;
                int lastUser = history.FindLastIndex(m => m.Role == ChatRole.User);
                Assert.Equal(HistoryTags.ReassertedInstruction, Tag(history[lastUser - 1]));
                Assert.Equal(Instruction, history[lastUser - 1].Text);
            }
        }

        Assert.True(reductions >= 10, $"only {reductions} reductions");
    }

    [Property(MaxTest = 150)]
    public void Truncation_never_orphans_tool_pairs_and_respects_the_budget(int seed, byte budgetSeed)
    {
        int budget = 80 + budgetSeed * 2;
        List<ChatMessage> input = Conversation(seed, 3 + Math.Abs(seed % 12));
        var snapshot = input.ToList();
        var options = new HistoryReducerOptions { MaxTokens = budget };
        var reducer = new TokenBudgetTruncationReducer(Tokenizer, options);

        var output = reducer.ReduceAsync(input, CancellationToken.None).GetAwaiter().GetResult().ToList();

        Assert.Equal(snapshot, input); // the caller's list is untouched
        Assert.Same(input[0], output[0]);
        AssertNoOrphans(input, output);
        AssertBudgetOrOnlyNewestTurn(input, output, options);
        AssertDroppedFunctionsAreNamed(input, output);
    }

    [Property(MaxTest = 100)]
    public void Semantic_Kernel_histories_get_the_same_guarantees(int seed, byte budgetSeed)
    {
        int budget = 80 + budgetSeed * 2;
        List<SK.ChatMessageContent> input = ToSemanticKernel(Conversation(seed, 3 + Math.Abs(seed % 12)));
        var history = new SK.ChatCompletion.ChatHistory(input);
        var options = new HistoryReducerOptions { MaxTokens = budget };
        var reducer = new TokenBudgetTruncationReducer(Tokenizer, options);

        var reduced = reducer.ReduceAsync(history, CancellationToken.None).GetAwaiter().GetResult()?.ToList();

        Assert.Equal(input.Count, history.Count); // ReduceAsync returns a new list; the ChatHistory is untouched
        if (reduced is null)
        {
            Assert.True(Count(input, options) <= budget); // null means "already fits"
            return;
        }

        Assert.Same(input[0], reduced[0]);
        AssertNoOrphans(input, reduced);
        Assert.True(Count(reduced, options) <= budget || reduced.Count(m => Tag(m) is null) <= 1 + input.Count - LastTurnStart(input), "over budget");
    }

    [Property(MaxTest = 40)]
    public void Compression_and_summarisation_keep_tool_pairs_together(int seed)
    {
        List<ChatMessage> input = Conversation(seed, 10);
        var options = new CompressingHistoryReducerOptions { MaxTokens = 200 };
        foreach (IChatReducer reducer in new IChatReducer[]
        {
            new CompressingHistoryReducer(FallbackCompressor(), options),
            new SummarizingHistoryReducer(Summariser().Object, Tokenizer, new SummarizingHistoryReducerOptions { MaxTokens = 200 }),
        })
        {
            var output = reducer.ReduceAsync(input, CancellationToken.None).GetAwaiter().GetResult().ToList();
            Assert.Same(input[0], output[0]);
            AssertNoOrphans(input, output);
            AssertBudgetOrOnlyNewestTurn(input, output, options);
        }
    }

    [Fact]
    public async Task Compression_reducer_shortens_old_text_but_keeps_function_content_verbatim()
    {
        List<ChatMessage> input = Conversation(seed: 21, turns: 8);
        var reducer = new CompressingHistoryReducer(FallbackCompressor(), new CompressingHistoryReducerOptions { MaxTokens = Count(input, new HistoryReducerOptions()) * 3 / 4, MinimumRate = 0.3 });

        var output = (await reducer.ReduceAsync(input, CancellationToken.None)).ToList();

        Assert.Contains(output, m => Tag(m) == HistoryTags.Compressed);
        Assert.DoesNotContain(output, m => Tag(m) == HistoryTags.OmissionNote); // compression alone was enough
        // Every function call and result object of the input is still there, unchanged.
        var inputFunctions = input.SelectMany(m => m.Contents).Where(c => c is FunctionCallContent or FunctionResultContent).ToList();
        var outputFunctions = output.SelectMany(m => m.Contents).Where(c => c is FunctionCallContent or FunctionResultContent).ToList();
        Assert.Equal(inputFunctions, outputFunctions);
        // The newest turn is untouched.
        Assert.Equal(input[^1].Text, output[^1].Text);
    }

    [Fact]
    public async Task Summariser_reads_function_calls_and_results_and_tags_the_summary()
    {
        var transcripts = new List<string>();
        List<ChatMessage> input = Conversation(seed: 5, turns: 12);
        Assert.Contains(input.Take(input.Count / 2), m => m.Contents.OfType<FunctionCallContent>().Any());
        var reducer = new SummarizingHistoryReducer(Summariser(transcripts).Object, Tokenizer, new SummarizingHistoryReducerOptions { MaxTokens = 250 });

        var output = (await reducer.ReduceAsync(input, CancellationToken.None)).ToList();

        Assert.Same(input[0], output[0]);
        Assert.Equal(HistoryTags.Summary, Tag(output[1]));
        Assert.StartsWith(SummarizingHistoryReducer.SummaryPrefix, output[1].Text, StringComparison.Ordinal);
        string transcript = Assert.Single(transcripts);
        Assert.Contains("[call get_tide(", transcript, StringComparison.Ordinal);
        Assert.Contains("[result call-", transcript, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_failing_summariser_leaves_the_history_untouched_and_says_why()
    {
        var client = new Mock<IChatClient>();
        client.Setup(c => c.GetResponseAsync(It.IsAny<IEnumerable<ChatMessage>>(), It.IsAny<ChatOptions?>(), It.IsAny<CancellationToken>()))
            .ThrowsAsync(new HttpRequestException("service unavailable"));
        var reducer = new SummarizingHistoryReducer(client.Object, Tokenizer, new SummarizingHistoryReducerOptions { MaxTokens = 100 });
        var history = new SK.ChatCompletion.ChatHistory(ToSemanticKernel(Conversation(seed: 2, turns: 10)));
        var before = history.ToList();

        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => reducer.ReduceAsync(history, CancellationToken.None));

        Assert.Contains("service unavailable", ex.Message, StringComparison.Ordinal);
        Assert.Equal(before, history.ToList());
    }

    [Fact]
    public async Task A_history_within_budget_is_not_reduced()
    {
        List<ChatMessage> input = Conversation(seed: 1, turns: 2);
        var reducer = new TokenBudgetTruncationReducer(Tokenizer, new HistoryReducerOptions { MaxTokens = 5000 });
        Assert.Null(await reducer.ReduceAsync(ToSemanticKernel(input), CancellationToken.None));
        Assert.Same(input, await reducer.ReduceAsync(input, CancellationToken.None));
    }

    [Fact]
    public void Bad_options_are_rejected_naming_the_option()
    {
        Assert.Equal("MaxTokens", Assert.Throws<ArgumentOutOfRangeException>(() => new TokenBudgetTruncationReducer(Tokenizer, new HistoryReducerOptions { MaxTokens = 3 })).ParamName);
        Assert.Equal("RecentShare", Assert.Throws<ArgumentOutOfRangeException>(() => new SummarizingHistoryReducer(Summariser().Object, Tokenizer, new SummarizingHistoryReducerOptions { RecentShare = 1 })).ParamName);
        Assert.Equal("MinimumRate", Assert.Throws<ArgumentOutOfRangeException>(() => new CompressingHistoryReducer(FallbackCompressor(), new CompressingHistoryReducerOptions { MinimumRate = 0 })).ParamName);
    }

    private static int LastTurnStart(IReadOnlyList<SK.ChatMessageContent> messages)
    {
        int i = messages.Count - 1;
        while (i > 0 && messages[i].Role != SK.ChatCompletion.AuthorRole.User)
        {
            i--;
        }

        return i;
    }

    /// <summary>The budget holds, unless all that is left besides the instruction (and note) is the newest turn's last unit.</summary>
    private static void AssertBudgetOrOnlyNewestTurn(List<ChatMessage> input, List<ChatMessage> output, HistoryReducerOptions options)
    {
        int tokens = Count(output, options);
        if (tokens <= options.MaxTokens)
        {
            return;
        }

        int kept = output.Count(m => Tag(m) is null) - 1;
        int lastTurn = input.FindLastIndex(m => m.Role == ChatRole.User);
        Assert.True(kept <= input.Count - lastTurn, $"{tokens} tokens > {options.MaxTokens} with {kept} messages kept");
    }

    private static void AssertDroppedFunctionsAreNamed(List<ChatMessage> input, List<ChatMessage> output)
    {
        var kept = output.ToHashSet();
        var droppedFunctions = input.Where(m => !kept.Contains(m)).SelectMany(m => m.Contents.OfType<FunctionCallContent>()).Select(c => c.Name).Distinct().ToList();
        if (input.Any(m => !kept.Contains(m)))
        {
            ChatMessage note = Assert.Single(output, m => Tag(m) == HistoryTags.OmissionNote);
            Assert.All(droppedFunctions, name => Assert.Contains(name, note.Text, StringComparison.Ordinal));
        }
    }
}
