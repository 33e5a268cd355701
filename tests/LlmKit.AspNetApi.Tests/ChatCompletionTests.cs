using LlmKit.Testing;
using Microsoft.Extensions.AI;

namespace LlmKit.AspNetApi.Tests;

/// <summary>The official OpenAI client (through Microsoft.Extensions.AI.OpenAI) against the running app.</summary>
[Collection(SharedAppCollection.Name)]
public sealed class ChatCompletionTests(SharedApp shared)
{
    private static readonly ChatMessage[] Prompt = [new(ChatRole.User, LoadedModels.ReferencePrompt)];

    private static ChatOptions Greedy(int maxTokens) => new() { Temperature = 0, MaxOutputTokens = maxTokens };

    [Fact]
    public async Task NonStreamingGreedyCompletionEqualsTheInProcessClient()
    {
        var overHttp = await shared.App.OpenAIChatClient().GetResponseAsync(Prompt, Greedy(64));
        var inProcess = await InProcess.ChatClient.GetResponseAsync(Prompt, Greedy(64));

        Assert.Equal(inProcess.Text, overHttp.Text);
        Assert.Equal(64, overHttp.Usage?.OutputTokenCount);
        Assert.Equal(inProcess.Usage?.InputTokenCount, overHttp.Usage?.InputTokenCount);
        Assert.Equal(ChatFinishReason.Length, overHttp.FinishReason);

        // The raw template continues the prompt: greedy stories260K reproduces llama2.c's published output.
        Assert.StartsWith(LoadedModels.ReferencePrompt + overHttp.Text, SharedFixtures.Stories260KReferenceText, StringComparison.Ordinal);
        Assert.True(overHttp.Text.Length > 100, $"expected a long continuation, got '{overHttp.Text}'");
    }

    [Fact]
    public async Task StreamingGreedyCompletionEqualsTheInProcessClient()
    {
        var inProcess = await InProcess.ChatClient.GetResponseAsync(Prompt, Greedy(48));
        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in shared.App.OpenAIChatClient().GetStreamingResponseAsync(Prompt, Greedy(48)))
        {
            updates.Add(update);
        }

        var streamed = updates.ToChatResponse();
        Assert.Equal(inProcess.Text, streamed.Text);
        Assert.True(updates.Count(u => u.Text.Length > 0) > 10, "the answer should arrive as many server-sent events, not one");
        Assert.Equal(ChatFinishReason.Length, updates.Last(u => u.FinishReason is not null).FinishReason);
        Assert.Equal(48, streamed.Usage?.OutputTokenCount);
    }

    [Fact]
    public async Task StopSequenceAndSeedAreHonoured()
    {
        // Greedy text: "..., there was a little girl named Lily. She loved ..." — stop at the first full stop.
        var options = new ChatOptions { Temperature = 0, MaxOutputTokens = 100, StopSequences = ["."], Seed = 7 };
        var response = await shared.App.OpenAIChatClient().GetResponseAsync(Prompt, options);
        Assert.Equal(", there was a little girl named Lily", response.Text);
        Assert.Equal(ChatFinishReason.Stop, response.FinishReason);

        // Sampling with a seed is reproducible across requests.
        var sampled = new ChatOptions { Temperature = 1, TopP = 0.9f, Seed = 42, MaxOutputTokens = 24 };
        var first = await shared.App.OpenAIChatClient().GetResponseAsync(Prompt, sampled);
        var second = await shared.App.OpenAIChatClient().GetResponseAsync(Prompt, sampled.Clone());
        Assert.Equal(first.Text, second.Text);
    }

    [Fact]
    public async Task ModelsHealthAndMetricsAnswer()
    {
        var models = new OpenAI.OpenAIClient(new System.ClientModel.ApiKeyCredential("x"), shared.App.ClientOptions()).GetOpenAIModelClient();
        var list = (await models.GetModelsAsync()).Value;
        Assert.Equal("stories260K", Assert.Single(list).Id);

        using var health = await shared.App.Http.GetAsync(new Uri("health", UriKind.Relative));
        string healthBody = await health.Content.ReadAsStringAsync();
        Assert.Equal(System.Net.HttpStatusCode.OK, health.StatusCode);
        Assert.Contains("\"status\":\"Healthy\"", healthBody, StringComparison.Ordinal);

        await shared.App.OpenAIChatClient().GetResponseAsync(Prompt, Greedy(4));
        string metrics = await shared.App.Http.GetStringAsync(new Uri("metrics", UriKind.Relative));
        Assert.Contains("llmkit_generations_total", metrics, StringComparison.Ordinal);
        Assert.Contains("llmkit_tokens_output_total", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LogsAndMetricsNeverCarryTheUserText()
    {
        const string Secret = "Zanzibar-7f3a";
        await shared.App.OpenAIChatClient().GetResponseAsync([new ChatMessage(ChatRole.User, "Once upon a time " + Secret)], Greedy(8));
        await Assert.ThrowsAsync<System.ClientModel.ClientResultException>(() =>
            shared.App.OpenAIChatClient().GetResponseAsync([new ChatMessage(ChatRole.User, Secret)], new ChatOptions { Temperature = 9 }));

        Assert.Contains(shared.App.Logs.Lines, l => l.Id.Id == 100); // a completion line was written...
        Assert.Contains(shared.App.Logs.Lines, l => l.Id.Id == 101); // ...and a refusal line
        Assert.DoesNotContain(shared.App.Logs.Lines, l => l.Message.Contains(Secret, StringComparison.Ordinal)
            || l.State.Any(kv => kv.Value?.ToString()?.Contains(Secret, StringComparison.Ordinal) == true));
        string metrics = await shared.App.Http.GetStringAsync(new Uri("metrics", UriKind.Relative));
        Assert.DoesNotContain(Secret, metrics, StringComparison.Ordinal);
    }
}
