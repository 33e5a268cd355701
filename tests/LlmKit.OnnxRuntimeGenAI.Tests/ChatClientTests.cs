using System.Text;
using LlmKit.Chat;
using LlmKit.Generation;
using LlmKit.Testing;
using Microsoft.Extensions.AI;
using Microsoft.SemanticKernel;
using Microsoft.SemanticKernel.ChatCompletion;
using Microsoft.SemanticKernel.TextGeneration;

namespace LlmKit.OnnxRuntimeGenAI.Tests;

/// <summary>
/// LlmKit's OnnxChatClient and SK service running on onnxruntime-genai: on stories260K (the folder both engines load
/// today) the responses must equal LlmKit's own engine's; ChatOptions, usage, finish reasons, streaming, cancellation
/// and concurrent use are checked on the real runtime.
/// </summary>
[Collection(OgaModelsCollection.Name)]
public sealed class ChatClientTests(OgaModels models)
{
    private const string Prompt = "Once upon a time";

    private static readonly ChatOptions Greedy = new() { Temperature = 0, MaxOutputTokens = 60 };

    [Fact]
    public async Task Greedy_response_equals_LlmKits_own_engine_with_usage_and_finish_reason()
    {
        using var ours = new OnnxChatClient(models.Stories260K);
        using var llmkit = new OnnxChatClient(LoadedModels.Stories260K);

        var a = await ours.GetResponseAsync(Prompt, Greedy);
        var b = await llmkit.GetResponseAsync(Prompt, Greedy);

        Assert.Equal(b.Text, a.Text);
        Assert.StartsWith(SharedFixtures.Stories260KReferenceText[Prompt.Length..40], a.Text, StringComparison.Ordinal);
        Assert.Equal(((GenerationResult)b.RawRepresentation!).TokenIds, ((GenerationResult)a.RawRepresentation!).TokenIds);
        Assert.Equal(ChatFinishReason.Length, a.FinishReason);
        Assert.Equal(b.Usage!.InputTokenCount, a.Usage!.InputTokenCount);
        Assert.Equal(60, a.Usage.OutputTokenCount);
        Assert.Equal(a.Usage.InputTokenCount + 60, a.Usage.TotalTokenCount);
        Assert.Equal(0, a.Usage.CachedInputTokenCount);
        Assert.Equal(LoadedModels.Stories260K.ModelId, a.ModelId);
        Assert.Same(models.Stories260K, ours.GetService<IGenerationEngine>());
        Assert.Same(models.Stories260K, ours.GetService<OnnxRuntimeGenAIEngine>());
        Assert.Null(ours.GetService<Models.OnnxGenAIModel>());
        Assert.Throws<InvalidOperationException>(() => ours.Model);
    }

    [Fact]
    public async Task Streaming_text_and_usage_equal_the_non_streaming_response()
    {
        using var client = new OnnxChatClient(models.Stories260K);
        var whole = await client.GetResponseAsync(Prompt, Greedy);

        var text = new StringBuilder();
        int updates = 0;
        ChatResponseUpdate? last = null;
        await foreach (var update in client.GetStreamingResponseAsync(Prompt, Greedy))
        {
            Assert.Null(last?.FinishReason);
            text.Append(update.Text);
            updates++;
            last = update;
        }

        Assert.Equal(whole.Text, text.ToString());
        Assert.True(updates > 10, $"expected one update per token that completes text, got {updates}");
        Assert.Equal(ChatFinishReason.Length, last!.FinishReason);
        var usage = Assert.Single(last.Contents.OfType<UsageContent>()).Details;
        Assert.Equal(whole.Usage!.OutputTokenCount, usage.OutputTokenCount);
        Assert.Equal(whole.Usage.InputTokenCount, usage.InputTokenCount);
    }

    [Fact]
    public async Task Stop_sequences_and_max_tokens_end_like_LlmKits_own_engine()
    {
        using var ours = new OnnxChatClient(models.Stories260K);
        using var llmkit = new OnnxChatClient(LoadedModels.Stories260K);
        var options = new ChatOptions { Temperature = 0, MaxOutputTokens = 100, StopSequences = ["Lily"] };

        var a = await ours.GetResponseAsync(Prompt, options);
        var b = await llmkit.GetResponseAsync(Prompt, options);

        Assert.Equal(", there was a little girl named ", a.Text);
        Assert.Equal(b.Text, a.Text);
        Assert.Equal(ChatFinishReason.Stop, a.FinishReason);
        Assert.Equal(b.Usage!.OutputTokenCount, a.Usage!.OutputTokenCount);

        var streamed = new StringBuilder();
        ChatFinishReason? reason = null;
        await foreach (var update in ours.GetStreamingResponseAsync(Prompt, options))
        {
            streamed.Append(update.Text);
            reason = update.FinishReason ?? reason;
        }

        Assert.Equal(a.Text, streamed.ToString());
        Assert.Equal(ChatFinishReason.Stop, reason);

        var five = await ours.GetResponseAsync(Prompt, new ChatOptions { Temperature = 0, MaxOutputTokens = 5 });
        Assert.Equal(5, five.Usage!.OutputTokenCount);
        Assert.Equal(ChatFinishReason.Length, five.FinishReason);
        Assert.StartsWith(five.Text, a.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sampling_options_are_passed_to_onnxruntime_genai_and_a_seed_repeats()
    {
        using var client = new OnnxChatClient(models.Stories260K);
        ChatOptions Sampled(long seed) => new() { Temperature = 1.2f, TopK = 40, TopP = 0.95f, Seed = seed, MaxOutputTokens = 40 };

        var first = await client.GetResponseAsync(Prompt, Sampled(42));
        var again = await client.GetResponseAsync(Prompt, Sampled(42));
        var other = await client.GetResponseAsync(Prompt, Sampled(7));
        var greedy = await client.GetResponseAsync(Prompt, new ChatOptions { Temperature = 0, MaxOutputTokens = 40 });

        var ids = (ChatResponse r) => ((GenerationResult)r.RawRepresentation!).TokenIds;
        Assert.Equal(ids(first), ids(again));
        Assert.NotEqual(ids(first), ids(other));
        Assert.NotEqual(ids(greedy), ids(first));

        // top_k = 1 samples the greedy token every time, whatever the temperature.
        var topOne = await client.GetResponseAsync(Prompt, new ChatOptions { Temperature = 1.5f, TopK = 1, Seed = 3, MaxOutputTokens = 40 });
        Assert.Equal(ids(greedy), ids(topOne));
    }

    [Theory]
    [InlineData("repetition_penalty", 1.3)]
    [InlineData("no_repeat_ngram_size", 3)]
    public async Task Penalty_settings_reach_onnxruntime_genai_and_give_LlmKits_own_ids(string name, double value)
    {
        using var ours = new OnnxChatClient(models.Stories260K);
        using var llmkit = new OnnxChatClient(LoadedModels.Stories260K);
        var options = new ChatOptions { Temperature = 0, MaxOutputTokens = 120, AdditionalProperties = new() { [name] = value } };

        var a = (GenerationResult)(await ours.GetResponseAsync(Prompt, options)).RawRepresentation!;
        var b = (GenerationResult)(await llmkit.GetResponseAsync(Prompt, options)).RawRepresentation!;
        var plain = (GenerationResult)(await ours.GetResponseAsync(Prompt, new ChatOptions { Temperature = 0, MaxOutputTokens = 120 })).RawRepresentation!;

        Assert.NotEqual(plain.TokenIds, a.TokenIds); // the setting changed something
        Assert.Equal(b.TokenIds, a.TokenIds);
    }

    [Fact]
    public async Task Settings_onnxruntime_genai_cannot_honour_fail_with_their_name()
    {
        using var client = new OnnxChatClient(models.Stories260K);
        var error = await Assert.ThrowsAsync<NotSupportedException>(() => client.GetResponseAsync(Prompt, new ChatOptions { FrequencyPenalty = 0.5f }));
        Assert.Contains("FrequencyPenalty (frequency_penalty)", error.Message, StringComparison.Ordinal);

        var minP = new ChatOptions { AdditionalProperties = new() { ["min_p"] = 0.1 } };
        error = await Assert.ThrowsAsync<NotSupportedException>(() => client.GetResponseAsync(Prompt, minP));
        Assert.Contains("MinP (min_p)", error.Message, StringComparison.Ordinal);

        // A JSON response format needs LlmKit's own engine: llguidance's JSON is not LlmKit's JSON language (GuidanceConstraintTests).
        error = await Assert.ThrowsAsync<NotSupportedException>(() => client.GetResponseAsync(Prompt, new ChatOptions { ResponseFormat = ChatResponseFormat.Json }));
        Assert.Contains("Constraint", error.Message, StringComparison.Ordinal);

        Assert.Throws<ArgumentOutOfRangeException>(() => client.GetStreamingResponseAsync(Prompt, new ChatOptions { TopP = 1.5f }));
    }

    [Fact]
    public async Task Cancellation_stops_streaming_and_non_streaming_requests()
    {
        using var client = new OnnxChatClient(models.Stories260K);
        using var cts = new CancellationTokenSource();
        int received = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var update in client.GetStreamingResponseAsync(Prompt, new ChatOptions { Temperature = 0, MaxOutputTokens = 200 }, cts.Token))
            {
                received++;
                await cts.CancelAsync();
            }
        });
        Assert.Equal(1, received);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.GetResponseAsync(Prompt, Greedy, cts.Token));

        // The engine still serves requests after cancelled ones (their native generators were disposed).
        var after = await client.GetResponseAsync(Prompt, new ChatOptions { Temperature = 0, MaxOutputTokens = 5 });
        Assert.Equal(5, after.Usage!.OutputTokenCount);
    }

    [Fact]
    public async Task Concurrent_requests_on_one_engine_equal_sequential_ones()
    {
        using var client = new OnnxChatClient(models.Stories260K);
        var scorer = new OnnxRuntimeGenAITokenScorer(models.Stories260K);
        string[] prompts = ["Once upon a time", "One day, Lily", "The little dog", "Tom and Sue went", "There was a big tree"];
        var options = new ChatOptions { Temperature = 0, MaxOutputTokens = 48 };

        var sequential = new List<string>();
        foreach (string prompt in prompts)
        {
            sequential.Add((await client.GetResponseAsync(prompt, options)).Text);
        }

        var sequentialScores = await scorer.ScoreAsync("Once upon a time", sequential[0]);

        // Each prompt twice at once, plus scoring calls, all on the same engine.
        var generations = prompts.Concat(prompts).Select(p => Task.Run(() => client.GetResponseAsync(p, options))).ToArray();
        var scorings = Enumerable.Range(0, 3).Select(_ => Task.Run(() => scorer.ScoreAsync("Once upon a time", sequential[0]))).ToArray();
        var results = await Task.WhenAll(generations);
        var scores = await Task.WhenAll(scorings);

        for (int i = 0; i < results.Length; i++)
        {
            Assert.Equal(sequential[i % prompts.Length], results[i].Text);
        }

        foreach (var s in scores)
        {
            Assert.Equal(sequentialScores.LogProbabilities, s.LogProbabilities);
        }
    }

    [Fact]
    public async Task Semantic_Kernel_chat_and_text_services_equal_LlmKits_own_engine()
    {
        var ours = new OnnxGenAIChatCompletionService(models.Stories260K);
        var llmkit = new OnnxGenAIChatCompletionService(LoadedModels.Stories260K);
        var settings = new OnnxGenAIPromptExecutionSettings { Temperature = 0, MaxTokens = 30 };

        var a = await ((ITextGenerationService)ours).GetTextContentsAsync(Prompt, settings);
        var b = await ((ITextGenerationService)llmkit).GetTextContentsAsync(Prompt, settings);
        Assert.Equal(b[0].Text, a[0].Text);
        Assert.Equal("Length", a[0].Metadata!["FinishReason"]);
        Assert.Equal(30, a[0].Metadata!["OutputTokenCount"]);

        var history = new ChatHistory();
        history.AddUserMessage(Prompt);
        var chat = await ((IChatCompletionService)ours).GetChatMessageContentsAsync(history, settings);
        Assert.Equal(a[0].Text, chat[0].Content);

        var streamed = new StringBuilder();
        IReadOnlyDictionary<string, object?>? lastMetadata = null;
        await foreach (var part in ((ITextGenerationService)ours).GetStreamingTextContentsAsync(Prompt, settings))
        {
            streamed.Append(part.Text);
            lastMetadata = part.Metadata ?? lastMetadata;
        }

        Assert.Equal(a[0].Text, streamed.ToString());
        Assert.Equal("Length", lastMetadata!["FinishReason"]);
        Assert.Equal(LoadedModels.Stories260K.ModelId, ours.Attributes[Microsoft.SemanticKernel.Services.AIServiceExtensions.ModelIdKey]);
    }

    [Fact]
    public async Task Chat_client_on_the_official_gpt2_folder_generates_the_same_ids_as_the_engine()
    {
        // gpt2 has no chat template: the message is sent as plain text, encoded by LlmKit's tokenizer. The random
        // model keeps only the first 1000 ids of GPT-2's vocabulary, so the text uses bytes and early merges only.
        const string Text = "he, re; on.";
        int[] prompt = models.Gpt2.Tokenizer.Encode(Text);
        Assert.True(prompt.All(id => id < 1000), $"'{Text}' must encode inside the 1000-id vocabulary: {string.Join(",", prompt)}");
        using var client = new OnnxChatClient(models.Gpt2);
        var response = await client.GetResponseAsync(Text, new ChatOptions { Temperature = 0, MaxOutputTokens = 12 });
        var direct = await models.Gpt2.GenerateAsync(prompt, new GenerationOptions { Temperature = 0, MaxNewTokens = 12 });
        int[] official = ReferenceOutputTests.OfficialGreedy(models.Gpt2, prompt, prompt.Length + 12);

        var ids = ((GenerationResult)response.RawRepresentation!).TokenIds;
        Assert.Equal(direct.TokenIds, ids);
        Assert.Equal(official[prompt.Length..], ids.Take(official.Length - prompt.Length));
        Assert.Equal(prompt.Length, response.Usage!.InputTokenCount);
    }
}
