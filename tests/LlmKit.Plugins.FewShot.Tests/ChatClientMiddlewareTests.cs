using LlmKit.Embeddings;
using LlmKit.Plugins.FewShot.Integration;
using LlmKit.Plugins.FewShot.Selection;
using LlmKit.Plugins.FewShot.Storage;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Moq;

namespace LlmKit.Plugins.FewShot.Tests;

public class ChatClientMiddlewareTests
{
    private static readonly FewShotExampleStore Store = new(
    [
        TestSupport.Example("The soup was cold and bland.", "negative"),
        TestSupport.Example("Loved the friendly staff!", "positive"),
        TestSupport.Example("My phone battery died in an hour.", "negative"),
    ]);

    private static IFewShotSelector Selector() => new SemanticSimilaritySelector(Store, new HashingEmbeddingGenerator());

    /// <summary>A remote chat service is the edge here: Moq records what the middleware forwards.</summary>
    private static (Mock<IChatClient> Mock, List<List<ChatMessage>> Calls) RemoteService()
    {
        var calls = new List<List<ChatMessage>>();
        var mock = new Mock<IChatClient>();
        mock.Setup(c => c.GetResponseAsync(It.IsAny<IEnumerable<ChatMessage>>(), It.IsAny<ChatOptions?>(), It.IsAny<CancellationToken>()))
            .Callback<IEnumerable<ChatMessage>, ChatOptions?, CancellationToken>((m, _, _) => calls.Add(m.ToList()))
            .ReturnsAsync(new ChatResponse(new ChatMessage(ChatRole.Assistant, "positive")));
        mock.Setup(c => c.GetStreamingResponseAsync(It.IsAny<IEnumerable<ChatMessage>>(), It.IsAny<ChatOptions?>(), It.IsAny<CancellationToken>()))
            .Callback<IEnumerable<ChatMessage>, ChatOptions?, CancellationToken>((m, _, _) => calls.Add(m.ToList()))
            .Returns(Stream(new ChatResponseUpdate(ChatRole.Assistant, "posi"), new ChatResponseUpdate(ChatRole.Assistant, "tive")));
        return (mock, calls);
    }

    private static async IAsyncEnumerable<ChatResponseUpdate> Stream(params ChatResponseUpdate[] updates)
    {
        foreach (var update in updates)
        {
            await Task.Yield();
            yield return update;
        }
    }

    [Fact]
    public async Task Examples_go_after_the_system_prompt_and_the_callers_messages_are_untouched()
    {
        var (remote, calls) = RemoteService();
        var client = remote.Object.AsBuilder().UseFewShot(Selector(), o =>
        {
            o.Count = 2;
            o.Instruction = "Label the sentiment.";
        }).Build();

        var system = new ChatMessage(ChatRole.System, "You are a classifier.");
        var user = new ChatMessage(ChatRole.User, "The staff were so friendly!");
        var callerMessages = new List<ChatMessage> { system, user };
        var response = await client.GetResponseAsync(callerMessages);

        Assert.Equal("positive", response.Text);
        Assert.Equal([system, user], callerMessages); // same list content, same instances, same order
        Assert.Equal("The staff were so friendly!", user.Text);

        var sent = Assert.Single(calls);
        Assert.Equal(
        [
            (ChatRole.System, "You are a classifier."),
            (ChatRole.System, "Label the sentiment."),
            (ChatRole.User, "The soup was cold and bland."),
            (ChatRole.Assistant, "negative"),
            (ChatRole.User, "Loved the friendly staff!"), // the most similar example sits right before the input
            (ChatRole.Assistant, "positive"),
            (ChatRole.User, "The staff were so friendly!"),
        ],
        sent.Select(m => (m.Role, m.Text)));
        Assert.Same(system, sent[0]);
        Assert.Same(user, sent[^1]);
    }

    [Fact]
    public async Task Streaming_requests_get_the_examples_too()
    {
        var (remote, calls) = RemoteService();
        var client = new FewShotChatClient(remote.Object, Selector(), new FewShotChatClientOptions { Count = 1 });
        var text = string.Concat(await client.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, "battery life is awful")]).Select(u => u.Text).ToListAsync());
        Assert.Equal("positive", text);
        Assert.Equal(
            [(ChatRole.User, "My phone battery died in an hour."), (ChatRole.Assistant, "negative"), (ChatRole.User, "battery life is awful")],
            Assert.Single(calls).Select(m => (m.Role, m.Text)));
    }

    [Fact]
    public async Task A_request_without_user_text_passes_through_unchanged()
    {
        var (remote, calls) = RemoteService();
        var client = new FewShotChatClient(remote.Object, Selector());
        var only = new ChatMessage(ChatRole.System, "sys");
        await client.GetResponseAsync([only]);
        Assert.Same(only, Assert.Single(Assert.Single(calls)));
    }

    [Fact]
    public async Task Use_few_shot_without_a_selector_resolves_the_registered_one()
    {
        var services = new ServiceCollection();
        services.AddSingleton(Store);
        services.AddFewShot(o => o.Count = 1);
        var provider = services.BuildServiceProvider();
        var (remote, calls) = RemoteService();
        var client = remote.Object.AsBuilder().UseFewShot().Build(provider);
        await client.GetResponseAsync([new ChatMessage(ChatRole.User, "cold soup")]);
        Assert.Equal(3, Assert.Single(calls).Count); // one example (two turns) plus the input, as configured by AddFewShot

        var withoutSelector = remote.Object.AsBuilder().UseFewShot();
        var ex = Assert.Throws<InvalidOperationException>(() => withoutSelector.Build(new ServiceCollection().BuildServiceProvider()));
        Assert.Contains("AddFewShot", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Options_are_validated()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new FewShotChatClient(new Mock<IChatClient>().Object, Selector(), new FewShotChatClientOptions { Count = 0 }));
        Assert.Equal("Count", ex.ParamName);
    }
}
