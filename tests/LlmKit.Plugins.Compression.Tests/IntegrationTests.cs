using LlmKit.Plugins.Compression.History;
using LlmKit.Plugins.Compression.Scoring;
using LlmKit.Scoring;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.SemanticKernel;
using Microsoft.SemanticKernel.ChatCompletion;
using Moq;
using static LlmKit.Plugins.Compression.Tests.HistoryFixtures;
using ChatMessage = Microsoft.Extensions.AI.ChatMessage;

namespace LlmKit.Plugins.Compression.Tests;

public sealed class IntegrationTests
{
    private static WordTokenizer Words => HistoryFixtures.Tokenizer;

    private static Kernel KernelWith(Action<IKernelBuilder>? extra = null, IConfiguration? configuration = null)
    {
        IKernelBuilder builder = Kernel.CreateBuilder();
        builder.Services.AddSingleton<Microsoft.ML.Tokenizers.Tokenizer>(Words);
        extra?.Invoke(builder);
        builder.AddPromptCompression(configuration);
        return builder.Build();
    }

    [Fact]
    public async Task Plugin_counts_tokens_and_estimates_cost()
    {
        Kernel kernel = KernelWith();
        const string text = "The harbour master logged 14 boats before noon.";

        FunctionResult result = await kernel.InvokeAsync(CompressionPlugin.PluginName, "count_tokens", new KernelArguments { ["text"] = text, ["pricePer1KTokens"] = 2.5 });

        var estimate = result.GetValue<TokenCostEstimate>()!;
        int expected = Words.CountTokens(text);
        Assert.Equal(expected, estimate.Tokens);
        Assert.Equal(expected * 2.5 / 1000, estimate.EstimatedCost, 12);
    }

    [Fact]
    public void Registering_twice_adds_the_plugin_once()
    {
        Kernel kernel = KernelWith(b => b.AddPromptCompression());
        Assert.Single(kernel.Plugins, p => p.Name == CompressionPlugin.PluginName);
        Assert.Equal(["compress_text", "count_tokens"], kernel.Plugins[CompressionPlugin.PluginName].Select(f => f.Name).Order());
    }

    [Fact]
    public async Task Plugin_compresses_text_to_the_rate_with_the_fallback_scorer()
    {
        Kernel kernel = KernelWith();
        string text = ReviewText.WithTokens(Words, 400);

        FunctionResult result = await kernel.InvokeAsync(CompressionPlugin.PluginName, "compress_text", new KernelArguments { ["text"] = text, ["rate"] = 0.5 });

        string compressed = result.GetValue<string>()!;
        Assert.InRange(Words.CountTokens(compressed) / 400.0, 0.475, 0.525);
        Assert.IsType<StatisticalTokenScorer>(kernel.Services.GetRequiredService<PromptCompressor>().Scorer); // no ITokenScorer registered
    }

    [Fact]
    public async Task Plugin_rejects_a_rate_outside_zero_one()
    {
        var plugin = new CompressionPlugin(new PromptCompressor(new StatisticalTokenScorer(Words)));
        var ex = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => plugin.CompressTextAsync("some text", 1.5));
        Assert.Equal("rate", ex.ParamName);
        Assert.Equal("pricePer1KTokens", Assert.Throws<ArgumentOutOfRangeException>(() => plugin.CountTokens("x", -1)).ParamName);
    }

    [Fact]
    public void Registered_token_scorer_and_configuration_are_used()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["LlmKit:Compression:SegmentTokens"] = "48",
            ["LlmKit:Compression:KeepDigits"] = "false",
            ["LlmKit:Compression:History:MaxTokens"] = "777",
        }).Build();
        Kernel kernel = KernelWith(b => b.Services.AddSingleton<ITokenScorer>(Stories.Scorer), configuration);

        var compressor = kernel.Services.GetRequiredService<PromptCompressor>();
        Assert.Same(Stories.Scorer, compressor.Scorer);
        Assert.Equal(48, compressor.Options.SegmentTokens);
        Assert.False(compressor.Options.KeepDigits);
        Assert.Same(Words, compressor.TargetTokenizer); // the registered tokenizer counts
        Assert.NotNull(kernel.Services.GetRequiredService<TokenBudgetTruncationReducer>());
        Assert.NotNull(kernel.Services.GetRequiredService<CompressingHistoryReducer>());
        var summariserError = Assert.Throws<InvalidOperationException>(() => kernel.Services.GetRequiredService<SummarizingHistoryReducer>());
        Assert.Contains("IChatClient", summariserError.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Invalid_configuration_fails_naming_the_option()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["LlmKit:Compression:DefaultRate"] = "1.5" }).Build();
        // Building the kernel resolves the plugin, hence the compressor: a bad option fails fast.
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => KernelWith(configuration: configuration));
        Assert.Equal("DefaultRate", ex.ParamName);
    }

    [Fact]
    public async Task Render_filter_compresses_an_over_budget_chat_prompt_but_keeps_system_and_question()
    {
        string? seenPrompt = null;
        List<AuthorRole>? seenRoles = null;
        var chat = new Mock<IChatCompletionService>(); // the remote chat service is the edge
        chat.Setup(c => c.GetChatMessageContentsAsync(It.IsAny<ChatHistory>(), It.IsAny<PromptExecutionSettings?>(), It.IsAny<Kernel?>(), It.IsAny<CancellationToken>()))
            .Returns((ChatHistory history, PromptExecutionSettings? _, Kernel? _, CancellationToken _) =>
            {
                seenPrompt = string.Join("\n", history.Select(m => $"{m.Role}: {m.Content}"));
                seenRoles = history.Select(m => m.Role).ToList();
                return Task.FromResult<IReadOnlyList<ChatMessageContent>>([new ChatMessageContent(AuthorRole.Assistant, "ok")]);
            });
        Kernel kernel = KernelWith(b =>
        {
            b.Services.AddSingleton(chat.Object);
            b.Services.AddPromptCompressionFilter(maxPromptTokens: 120);
        });
        string context = ReviewText.WithTokens(Words, 300);
        string prompt = $"<message role=\"system\">Answer from the reviews only.</message>\n<message role=\"user\">{context}</message>\n<message role=\"assistant\">Noted.</message>\n<message role=\"user\">Was the pho good?</message>";

        await kernel.InvokePromptAsync(prompt);

        Assert.NotNull(seenPrompt);
        Assert.Contains("system: Answer from the reviews only.", seenPrompt, StringComparison.Ordinal);
        Assert.EndsWith("user: Was the pho good?", seenPrompt, StringComparison.Ordinal);
        Assert.Equal([AuthorRole.System, AuthorRole.User, AuthorRole.Assistant, AuthorRole.User], seenRoles); // role markers survive: SK still parses four messages
        Assert.True(Words.CountTokens(seenPrompt) < Words.CountTokens(context), "the prompt was not compressed");
    }

    [Fact]
    public async Task UseCompression_sends_a_reduced_history_and_leaves_the_callers_list_alone()
    {
        List<ChatMessage>? sent = null;
        var inner = new Mock<IChatClient>();
        inner.Setup(c => c.GetResponseAsync(It.IsAny<IEnumerable<ChatMessage>>(), It.IsAny<ChatOptions?>(), It.IsAny<CancellationToken>()))
            .Returns((IEnumerable<ChatMessage> messages, ChatOptions? _, CancellationToken _) =>
            {
                sent = messages.ToList();
                return Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, "ok")));
            });
        var compressor = new PromptCompressor(new StatisticalTokenScorer(Words));
        IChatClient client = new ChatClientBuilder(inner.Object).UseCompression(compressor, o => o.MaxTokens = 250).Build();
        List<ChatMessage> history = Conversation(seed: 8, turns: 15);
        var before = history.ToList();

        await client.GetResponseAsync(history);

        Assert.Equal(before, history);
        Assert.NotNull(sent);
        Assert.Same(history[0], sent[0]);
        Assert.True(Count(sent, new HistoryReducerOptions()) <= 250);
        Assert.Equal(history[^1].Text, sent[^1].Text);
    }

    [Fact]
    public void UseCompression_without_a_registered_reducer_says_what_to_do()
    {
        var builder = new ChatClientBuilder(new Mock<IChatClient>().Object).UseCompression();
        var ex = Assert.Throws<InvalidOperationException>(() => builder.Build(new ServiceCollection().BuildServiceProvider()));
        Assert.Contains("AddPromptCompression", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Chat_prompt_split_keeps_leading_system_and_last_user_message_apart()
    {
        const string prompt = "<message role=\"system\">S</message>\n<message role=\"user\">U1</message>\n<message role=\"user\">U2</message>";
        PromptParts parts = PromptCompressionFilter.Split(prompt);
        Assert.Equal("<message role=\"system\">S</message>", parts.Instruction);
        Assert.Equal("\n<message role=\"user\">U1</message>\n", Assert.Single(parts.Contexts));
        Assert.Equal("<message role=\"user\">U2</message>", parts.Question);
        Assert.Equal(prompt, parts.Instruction + parts.Contexts[0] + parts.Question);
    }
}
