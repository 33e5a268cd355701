using System.Text.Json;
using LlmKit.Plugins.FewShot.Integration;
using LlmKit.Plugins.FewShot.Selection;
using LlmKit.Plugins.FewShot.Storage;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.ML.Tokenizers;
using Microsoft.SemanticKernel;
using Microsoft.SemanticKernel.ChatCompletion;
using Moq;

namespace LlmKit.Plugins.FewShot.Tests;

public class KernelPluginTests
{
    private static FewShotExampleStore SentimentStore() => new(
    [
        TestSupport.Example("The soup was cold and bland.", "negative", "negative"),
        TestSupport.Example("Loved the friendly staff!", "positive", "positive"),
        TestSupport.Example("My phone battery died in an hour.", "negative", "negative"),
        TestSupport.Example("Best pizza in town, great crust.", "positive", "positive"),
    ]);

    /// <summary>The remote chat service is the edge: Moq records the history it receives and answers.</summary>
    private static (Mock<IChatCompletionService> Mock, List<ChatHistory> Calls) RemoteChatService(string answer)
    {
        var calls = new List<ChatHistory>();
        var mock = new Mock<IChatCompletionService>();
        mock.SetupGet(s => s.Attributes).Returns(new Dictionary<string, object?>());
        mock.Setup(s => s.GetChatMessageContentsAsync(It.IsAny<ChatHistory>(), It.IsAny<PromptExecutionSettings?>(), It.IsAny<Kernel?>(), It.IsAny<CancellationToken>()))
            .Callback<ChatHistory, PromptExecutionSettings?, Kernel?, CancellationToken>((h, _, _, _) => calls.Add(h))
            .ReturnsAsync([new ChatMessageContent(AuthorRole.Assistant, answer)]);
        return (mock, calls);
    }

    [Fact]
    public async Task Answer_runs_through_the_kernel_with_selected_examples_as_turns()
    {
        var (remote, calls) = RemoteChatService("positive");
        var builder = Kernel.CreateBuilder();
        builder.Services.AddSingleton(remote.Object);
        builder.Services.AddSingleton(SentimentStore());
        builder.AddFewShotPlugin(o =>
        {
            o.Count = 2;
            o.Instruction = "Reply with positive or negative.";
        });
        var kernel = builder.Build();

        var result = await kernel.InvokeAsync("FewShot", "answer", new KernelArguments { ["input"] = "The staff were friendly and the pizza was great" });

        Assert.Equal("positive", result.GetValue<string>());
        var history = Assert.Single(calls);
        Assert.Equal(AuthorRole.System, history[0].Role);
        Assert.Equal("Reply with positive or negative.", history[0].Content);
        Assert.Equal(6, history.Count); // system + 2 × (user, assistant) + the input
        Assert.Equal([AuthorRole.User, AuthorRole.Assistant, AuthorRole.User, AuthorRole.Assistant, AuthorRole.User], history.Skip(1).Select(m => m.Role));
        Assert.Equal("The staff were friendly and the pizza was great", history[^1].Content);
        // The most similar example (most shared words and n-grams) is rendered last, nearest the input.
        Assert.Equal("Loved the friendly staff!", history[3].Content);
        Assert.Equal("positive", history[4].Content);
    }

    [Fact]
    public async Task Select_examples_returns_json_best_first()
    {
        var plugin = new FewShotPlugin(new Bm25Selector(SentimentStore()));
        var kernel = new Kernel();
        kernel.Plugins.AddFromObject(plugin, "FewShot");
        var json = (await kernel.InvokeAsync("FewShot", "select_examples", new KernelArguments { ["input"] = "cold soup", ["count"] = 2 })).GetValue<string>()!;

        using var document = JsonDocument.Parse(json);
        var rows = document.RootElement.EnumerateArray().ToList();
        Assert.Equal(2, rows.Count);
        Assert.Equal("The soup was cold and bland.", rows[0].GetProperty("input").GetString());
        Assert.Equal("negative", rows[0].GetProperty("label").GetString());
        Assert.True(rows[0].GetProperty("score").GetDouble() > rows[1].GetProperty("score").GetDouble());
    }

    [Fact]
    public async Task Bad_count_and_missing_chat_service_fail_clearly()
    {
        var plugin = new FewShotPlugin(new Bm25Selector(SentimentStore()));
        var ex = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => plugin.SelectExamplesAsync("x", -1));
        Assert.Equal("count", ex.ParamName);
        await Assert.ThrowsAsync<KernelException>(() => plugin.AnswerAsync(new Kernel(), "x"));
        Assert.Equal("defaultCount", Assert.Throws<ArgumentOutOfRangeException>(() => new FewShotPlugin(new Bm25Selector(SentimentStore()), defaultCount: 65)).ParamName);
    }

    [Fact]
    public void Di_binds_options_from_configuration_and_builds_the_configured_selector()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["LlmKit:FewShot:Count"] = "3",
            ["LlmKit:FewShot:Selector"] = "MaxMarginalRelevance",
            ["LlmKit:FewShot:MmrLambda"] = "0.3",
            ["LlmKit:FewShot:BalanceLabels"] = "true",
            ["LlmKit:FewShot:MaxExampleTokens"] = "200",
        }).Build();
        var services = new ServiceCollection();
        services.AddSingleton(TestSupport.Stories260KTokenizer);
        services.AddFewShot(configuration.GetSection(FewShotOptions.SectionName));
        var provider = services.BuildServiceProvider();

        Assert.Equal(3, provider.GetRequiredService<IOptions<FewShotOptions>>().Value.Count);
        var budget = Assert.IsType<TokenBudgetSelector>(provider.GetRequiredService<IFewShotSelector>());
        Assert.Equal(200, budget.MaxTokens);
        Assert.Equal(3, provider.GetRequiredService<FewShotPlugin>().DefaultCount);
    }

    [Fact]
    public void Di_uses_a_registered_embedding_generator_and_keeps_its_own_default_private()
    {
        // Without a registration the default generator must not land in the shared slot, where it would become the
        // generator of every other plugin in the container.
        var bare = new ServiceCollection().AddFewShot().BuildServiceProvider();
        Assert.IsType<LlmKit.Embeddings.HashingEmbeddingGenerator>(bare.GetRequiredService<ExampleEmbeddingCache>().Generator);
        Assert.Null(bare.GetService<Microsoft.Extensions.AI.IEmbeddingGenerator<string, Microsoft.Extensions.AI.Embedding<float>>>());

        var registered = new LlmKit.Embeddings.HashingEmbeddingGenerator(new LlmKit.Embeddings.HashingEmbeddingOptions { Dimensions = 64 });
        var services = new ServiceCollection();
        services.AddSingleton<Microsoft.Extensions.AI.IEmbeddingGenerator<string, Microsoft.Extensions.AI.Embedding<float>>>(registered);
        var provider = services.AddFewShot().BuildServiceProvider();
        Assert.Same(registered, provider.GetRequiredService<ExampleEmbeddingCache>().Generator);
    }

    [Fact]
    public void Di_loads_the_examples_file()
    {
        string path = Path.Combine(Directory.CreateTempSubdirectory("fewshot-di-").FullName, "examples.jsonl");
        try
        {
            File.WriteAllText(path, "{\"input\": \"a\", \"output\": \"b\"}\n{\"input\": \"c\", \"output\": \"d\"}\n");
            var provider = new ServiceCollection().AddFewShot(o => o.ExamplesPath = path).BuildServiceProvider();
            Assert.Equal(2, provider.GetRequiredService<FewShotExampleStore>().Count);
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(path)!, recursive: true);
        }
    }

    [Fact]
    public void Di_reports_invalid_options_by_name()
    {
        var provider = new ServiceCollection().AddFewShot(o =>
        {
            o.Count = 0;
            o.MmrLambda = 2;
            o.ExamplesPath = "/nonexistent/examples.jsonl";
        }).BuildServiceProvider();
        var ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IFewShotSelector>());
        Assert.Contains("Count is 0; it must be between 1 and 64", ex.Message, StringComparison.Ordinal);
        Assert.Contains("MmrLambda is 2; it must be between 0 and 1", ex.Message, StringComparison.Ordinal);
        Assert.Contains("ExamplesPath '/nonexistent/examples.jsonl' does not exist", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Di_budget_without_a_tokenizer_explains_what_is_missing()
    {
        var provider = new ServiceCollection().AddFewShot(o => o.MaxExampleTokens = 100).BuildServiceProvider();
        var ex = Assert.Throws<InvalidOperationException>(() => provider.GetRequiredService<IFewShotSelector>());
        Assert.Contains(nameof(Tokenizer), ex.Message, StringComparison.Ordinal);
    }
}
