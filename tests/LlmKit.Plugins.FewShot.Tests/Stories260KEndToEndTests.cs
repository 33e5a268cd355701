using LlmKit.Chat;
using LlmKit.Embeddings;
using LlmKit.Hosting;
using LlmKit.Plugins.FewShot.Integration;
using LlmKit.Plugins.FewShot.Rendering;
using LlmKit.Plugins.FewShot.Selection;
using LlmKit.Plugins.FewShot.Storage;
using LlmKit.Plugins.FewShot.Synthesis;
using LlmKit.Testing;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.SemanticKernel;
using Microsoft.SemanticKernel.ChatCompletion;

namespace LlmKit.Plugins.FewShot.Tests;

/// <summary>
/// The plugin and the middleware over LlmKit's real runtime with the real stories260K model. Greedy decoding is
/// deterministic, so "the same text as a direct call with the rendered few-shot messages" proves the plugin sent
/// exactly those turns to the model.
/// </summary>
public class Stories260KEndToEndTests
{
    private const string Input = "Lily found a little cat in the garden.";
    private const int MaxTokens = 24; // a short answer keeps each generation in the milliseconds

    private static readonly FewShotExampleStore StoryStore = new(
    [
        TestSupport.Example("Tom found a big dog in the park.", "The dog was happy and they played with a ball."),
        TestSupport.Example("Sue saw a bird in the tree.", "The bird sang a song and Sue smiled."),
        TestSupport.Example("Ben had a red car.", "He drove it around the room all day."),
    ]);

    private static SemanticSimilaritySelector Selector() => new(StoryStore, new HashingEmbeddingGenerator());

    private static ChatOptions Greedy() => new() { Temperature = 0, MaxOutputTokens = MaxTokens };

    [Fact]
    public async Task Kernel_plugin_on_stories260K_sends_exactly_the_rendered_few_shot_turns()
    {
        var model = LoadedModels.Stories260K;
        // Generic SK settings with snake_case extension data, as a prompt template would set them: the plugin never
        // needs LlmKit's own settings type, so the same code runs against any chat service.
        var settings = new PromptExecutionSettings { ExtensionData = new Dictionary<string, object> { ["temperature"] = 0, ["max_tokens"] = MaxTokens } };
        var renderer = new FewShotPromptRenderer();
        var builder = Kernel.CreateBuilder();
        builder.Services.AddSingleton<IChatCompletionService>(new OnnxGenAIChatCompletionService(model));
        var kernel = builder.Build();
        kernel.Plugins.AddFromObject(new FewShotPlugin(Selector(), renderer, defaultCount: 2, settings), "FewShot");

        string answer = (await kernel.InvokeAsync("FewShot", "answer", new KernelArguments { ["input"] = Input })).GetValue<string>()!;

        using var client = new OnnxChatClient(model);
        var selected = await Selector().SelectAsync(Input, 2);
        var direct = await client.GetResponseAsync(renderer.RenderMessages(selected, Input), Greedy());
        var zeroShot = await client.GetResponseAsync([new ChatMessage(ChatRole.User, Input)], Greedy());

        Assert.False(string.IsNullOrWhiteSpace(answer));
        Assert.Equal(direct.Text, answer);
        Assert.NotEqual(zeroShot.Text, answer); // the examples really reach the model and change what it writes
    }

    [Fact]
    public async Task Middleware_on_stories260K_equals_a_direct_call_with_the_examples_inserted()
    {
        var model = LoadedModels.Stories260K;
        using var inner = new OnnxChatClient(model);
        var client = inner.AsBuilder().UseFewShot(Selector(), o => o.Count = 2).Build();
        var callerMessages = new List<ChatMessage> { new(ChatRole.User, Input) };

        var viaMiddleware = await client.GetResponseAsync(callerMessages, Greedy());

        var selected = await Selector().SelectAsync(Input, 2);
        var expectedPrompt = new FewShotPromptRenderer().RenderExampleMessages(selected);
        expectedPrompt.Add(new ChatMessage(ChatRole.User, Input));
        var direct = await inner.GetResponseAsync(expectedPrompt, Greedy());

        Assert.Equal(direct.Text, viaMiddleware.Text);
        Assert.Single(callerMessages); // the caller's list is untouched
    }

    [Fact]
    public async Task Di_with_the_llmkit_runtime_counts_the_budget_in_the_models_tokens()
    {
        var builder = Kernel.CreateBuilder();
        builder.AddOnnxGenAIChatCompletion("stories260K", TestModels.Stories260KFolder);
        builder.Services.AddSingleton(StoryStore);
        builder.AddFewShotPlugin(o =>
        {
            o.Count = 3;
            o.MaxExampleTokens = 30;
        });
        var kernel = builder.Build();

        var selector = Assert.IsType<TokenBudgetSelector>(kernel.Services.GetRequiredService<IFewShotSelector>());
        var tokenizer = kernel.Services.GetRequiredService<Microsoft.ML.Tokenizers.Tokenizer>(); // registered by the runtime
        var selected = await selector.SelectAsync(Input, 3);

        int used = selected.Sum(s => tokenizer.CountTokens(s.Example.Input) + tokenizer.CountTokens(s.Example.Output));
        Assert.InRange(used, 1, 30);
        Assert.True(selected.Count < 3, "30 tokens cannot hold all three story examples");
        Assert.NotNull(kernel.Plugins["FewShot"]["answer"]);
    }

    [Fact]
    public async Task Magpie_on_stories260K_keeps_the_first_request_and_rejects_its_greedy_repeat()
    {
        var model = LoadedModels.Stories260K;
        var service = new OnnxGenAIChatCompletionService(model);
        var greedy = new PromptExecutionSettings { ExtensionData = new Dictionary<string, object> { ["temperature"] = 0, ["max_tokens"] = 16 } };
        var complete = RawTextCompletions.FromTextGeneration(service, greedy);
        // stories260K has no chat template; a story opening and the end of its first sentence play the two roles.
        var template = new MagpieTemplate("Once upon a time", ".");
        using var chat = new OnnxChatClient(model);
        var synthesizer = new ExampleSynthesizer(chat, new ExampleSynthesizerOptions { MaxAttemptsPerExample = 1, ChatOptions = Greedy() });

        var result = await synthesizer.SynthesizeMagpieAsync(complete, template, count: 2);

        string continuation = await complete(template.UserTurnPrefix, CancellationToken.None);
        string expectedRequest = continuation[..continuation.IndexOf('.', StringComparison.Ordinal)].Trim();
        var kept = Assert.Single(result.Examples); // greedy decoding repeats itself, so the second request is a duplicate
        Assert.Equal(expectedRequest, kept.Input);
        Assert.False(string.IsNullOrWhiteSpace(kept.Output));
        Assert.Equal((2, 1), (result.Attempts, result.RejectedAsSimilar));
    }
}
