using System.Diagnostics;
using System.Text;
using LlmKit.Chat;
using LlmKit.Chat.Templates;
using LlmKit.Generation;
using LlmKit.Models;
using LlmKit.Testing;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;

namespace LlmKit.Tests.Chat;

/// <summary>OnnxChatClient on the real stories260K model (a base model: its folder has no chat template, so None is used).</summary>
public class OnnxChatClientTests
{
    private static OnnxGenAIModel Model => LoadedModels.Stories260K;

    private static int ReferenceNewTokens => LoadedModels.ReferenceSteps - Model.Tokenizer.Encode(LoadedModels.ReferencePrompt).Length;

    private static ChatMessage[] Prompt => [new(ChatRole.User, LoadedModels.ReferencePrompt)];

    [Fact]
    public async Task Greedy_raw_completion_equals_the_runtime_output_and_the_reference_text()
    {
        var client = new OnnxChatClient(Model);
        var direct = await Model.GenerateAsync(LoadedModels.ReferencePrompt, new GenerationOptions { Temperature = 0, MaxNewTokens = ReferenceNewTokens });

        var response = await client.GetResponseAsync(Prompt, new ChatOptions { Temperature = 0, MaxOutputTokens = ReferenceNewTokens });

        Assert.Equal(ChatTemplateKind.None, client.Template.Kind);
        Assert.Equal(direct.Text, response.Text);
        Assert.StartsWith(SharedFixtures.Stories260KReferenceText, LoadedModels.ReferencePrompt + response.Text, StringComparison.Ordinal);
        Assert.Equal(ChatRole.Assistant, response.Messages.Single().Role);
    }

    [Fact]
    public async Task Streaming_concatenated_equals_non_streaming_with_usage_and_finish_reason_length()
    {
        var client = new OnnxChatClient(Model);
        var options = new ChatOptions { Temperature = 0, MaxOutputTokens = 40 };
        var whole = await client.GetResponseAsync(Prompt, options);

        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in client.GetStreamingResponseAsync(Prompt, options))
        {
            updates.Add(update);
        }

        int promptTokens = Model.Tokenizer.Encode(LoadedModels.ReferencePrompt).Length;
        Assert.Equal(whole.Text, string.Concat(updates.Select(u => u.Text)));
        Assert.Equal(ChatFinishReason.Length, whole.FinishReason);
        Assert.Equal(promptTokens, whole.Usage!.InputTokenCount);
        Assert.Equal(40, whole.Usage.OutputTokenCount);
        Assert.Equal(promptTokens + 40, whole.Usage.TotalTokenCount);

        // Only the last update finishes; folding the updates back gives the same response, usage included.
        Assert.All(updates.SkipLast(1), u => Assert.Null(u.FinishReason));
        var folded = updates.ToChatResponse();
        Assert.Equal(whole.Text, folded.Text);
        Assert.Equal(ChatFinishReason.Length, folded.FinishReason);
        Assert.Equal(40, folded.Usage!.OutputTokenCount);
        Assert.Equal(promptTokens, folded.Usage.InputTokenCount);
        Assert.Equal(Model.ModelId, folded.ModelId);
    }

    [Fact]
    public async Task The_second_turn_reports_the_history_tokens_it_took_from_the_cache_and_answers_as_a_cold_model()
    {
        // Own model instances: the shared one's pool is used by tests running in parallel.
        using var warmModel = OnnxGenAIModel.Load(TestModels.Stories260KFolder, new OnnxGenAIModelOptions { IntraOpThreads = 1 });
        using var coldModel = OnnxGenAIModel.Load(TestModels.Stories260KFolder, new OnnxGenAIModelOptions { IntraOpThreads = 1, ReusePromptPrefixes = false });
        var warm = new OnnxChatClient(warmModel);
        var cold = new OnnxChatClient(coldModel);
        var options = new ChatOptions { Temperature = 0, MaxOutputTokens = 20 };
        var history = new List<ChatMessage> { new(ChatRole.User, "Once upon a time, there was a little girl named Lily.") };

        var first = await warm.GetResponseAsync(history, options);
        Assert.Equal(0, first.Usage!.CachedInputTokenCount);
        history.AddRange(first.Messages);
        history.Add(new ChatMessage(ChatRole.User, "One day, she went to the park."));

        var second = await warm.GetResponseAsync(history, options);
        var coldSecond = await cold.GetResponseAsync(history, options);

        // At least the first turn's prompt (less the last token, which may merge with the reply when re-encoded) is cached.
        long firstPrompt = first.Usage.InputTokenCount!.Value;
        Assert.InRange(second.Usage!.CachedInputTokenCount!.Value, firstPrompt - 1, second.Usage.InputTokenCount!.Value - 1);
        Assert.Equal(0, coldSecond.Usage!.CachedInputTokenCount);
        Assert.Equal(coldSecond.Text, second.Text);
    }

    [Fact]
    public async Task A_stop_sequence_ends_with_finish_reason_stop_and_is_not_returned()
    {
        var client = new OnnxChatClient(Model);
        var free = await client.GetResponseAsync(Prompt, new ChatOptions { Temperature = 0, MaxOutputTokens = 60 });
        const string stop = "Lily";
        Assert.Contains(stop, free.Text, StringComparison.Ordinal);

        var stopped = await client.GetResponseAsync(Prompt, new ChatOptions { Temperature = 0, MaxOutputTokens = 60, StopSequences = [stop] });

        Assert.Equal(ChatFinishReason.Stop, stopped.FinishReason);
        Assert.Equal(free.Text[..free.Text.IndexOf(stop, StringComparison.Ordinal)], stopped.Text);
    }

    [Fact]
    public void Chat_options_map_onto_generation_options_including_additional_properties()
    {
        var options = new ChatOptions
        {
            Temperature = 0.7f, TopP = 0.9f, TopK = 40, MaxOutputTokens = 12, StopSequences = ["\n"], Seed = 5,
            FrequencyPenalty = 0.1f, PresencePenalty = 0.2f,
            AdditionalProperties = new() { ["repetition_penalty"] = 1.1, ["min_p"] = "0.05", ["no_repeat_ngram_size"] = 3 },
        };

        var mapped = ChatOptionsMapper.ToGenerationOptions(options)!;

        Assert.Equal(new GenerationOptions
        {
            Temperature = 0.7f, TopP = 0.9f, TopK = 40, MaxNewTokens = 12, StopSequences = mapped.StopSequences, Seed = 5,
            FrequencyPenalty = 0.1f, PresencePenalty = 0.2f, RepetitionPenalty = 1.1f, MinP = 0.05f, NoRepeatNGramSize = 3,
        }, mapped);
        Assert.Equal(["\n"], mapped.StopSequences!);
    }

    [Fact]
    public async Task Prompt_lookup_through_additional_properties_speculates_and_answers_the_same()
    {
        var client = new OnnxChatClient(Model);
        var options = new ChatOptions { Temperature = 0, MaxOutputTokens = 60 };
        var speculative = options.Clone();
        speculative.AdditionalProperties = new() { ["prompt_lookup_draft_tokens"] = 6 };

        Assert.Equal(6, ChatOptionsMapper.ToGenerationOptions(speculative)!.PromptLookup!.DraftTokens);
        Assert.Null(ChatOptionsMapper.ToGenerationOptions(options)!.PromptLookup);
        var plain = await client.GetResponseAsync(Prompt, options);
        var fast = await client.GetResponseAsync(Prompt, speculative);
        Assert.Equal(plain.Text, fast.Text);
    }

    [Fact]
    public async Task A_default_draft_model_answers_the_same_and_a_requests_prompt_lookup_replaces_it()
    {
        using var draft = OnnxGenAIModel.Load(TestModels.Stories260KFolder, new OnnxGenAIModelOptions { IntraOpThreads = 1 });
        var plainClient = new OnnxChatClient(Model);
        var draftClient = new OnnxChatClient(Model, new OnnxChatClientOptions { DefaultGeneration = new GenerationOptions { DraftModel = new() { Model = draft } } });
        var options = new ChatOptions { Temperature = 0, MaxOutputTokens = 60 };
        var lookup = options.Clone();
        lookup.AdditionalProperties = new() { ["prompt_lookup_draft_tokens"] = 6 };

        var plain = await plainClient.GetResponseAsync(Prompt, options);
        Assert.Equal(plain.Text, (await draftClient.GetResponseAsync(Prompt, options)).Text);
        Assert.Equal(plain.Text, (await draftClient.GetResponseAsync(Prompt, lookup)).Text); // not "both set": the request's way wins
    }

    [Fact]
    public async Task Top_k_one_through_chat_options_equals_greedy_even_at_high_temperature()
    {
        var client = new OnnxChatClient(Model);
        var greedy = await client.GetResponseAsync(Prompt, new ChatOptions { Temperature = 0, MaxOutputTokens = 30 });
        var topK1 = await client.GetResponseAsync(Prompt, new ChatOptions { Temperature = 1.5f, TopK = 1, Seed = 3, MaxOutputTokens = 30 });
        Assert.Equal(greedy.Text, topK1.Text);
    }

    [Fact]
    public async Task A_repetition_penalty_from_additional_properties_changes_the_output()
    {
        var client = new OnnxChatClient(Model);
        var plain = await client.GetResponseAsync(Prompt, new ChatOptions { Temperature = 0, MaxOutputTokens = 60 });
        var penalised = await client.GetResponseAsync(Prompt, new ChatOptions
        {
            Temperature = 0, MaxOutputTokens = 60, AdditionalProperties = new() { ["repetition_penalty"] = 1.8f },
        });
        var direct = await Model.GenerateAsync(LoadedModels.ReferencePrompt, new GenerationOptions { Temperature = 0, MaxNewTokens = 60, RepetitionPenalty = 1.8f });

        Assert.NotEqual(plain.Text, penalised.Text);
        Assert.Equal(direct.Text, penalised.Text);
    }

    [Fact]
    public async Task Defaults_from_the_client_options_apply_where_the_request_is_silent()
    {
        var client = new OnnxChatClient(Model, new OnnxChatClientOptions { DefaultGeneration = new GenerationOptions { Temperature = 0, MaxNewTokens = 7 } });
        var response = await client.GetResponseAsync(Prompt);
        Assert.Equal(7, response.Usage!.OutputTokenCount);

        var overridden = await client.GetResponseAsync(Prompt, new ChatOptions { MaxOutputTokens = 3 });
        Assert.Equal(3, overridden.Usage!.OutputTokenCount);
        Assert.StartsWith(overridden.Text, response.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Invalid_options_and_unsupported_features_fail_before_any_work_with_the_setting_named()
    {
        var client = new OnnxChatClient(Model);
        var range = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => client.GetResponseAsync(Prompt, new ChatOptions { TopP = 2f }));
        Assert.Equal("TopP", range.ParamName);

        // Llama 2 has no published tool format: tools fail at the call, naming the setting to use.
        var llama2 = new OnnxChatClient(Model, new OnnxChatClientOptions { ChatTemplate = ChatTemplateKind.Llama2 });
        var tools = Assert.Throws<NotSupportedException>(() => llama2.GetStreamingResponseAsync(Prompt, new ChatOptions
        {
            Tools = [AIFunctionFactory.Create(() => 42, "answer")],
        }));
        Assert.Contains("ToolCallFormat", tools.Message, StringComparison.Ordinal);

        var role = await Assert.ThrowsAsync<NotSupportedException>(() => client.GetResponseAsync([new ChatMessage(new ChatRole("critic"), "x")]));
        Assert.Contains("critic", role.Message, StringComparison.Ordinal);

        var bad = await Assert.ThrowsAsync<ArgumentException>(() => client.GetResponseAsync(Prompt, new ChatOptions { AdditionalProperties = new() { ["min_p"] = "lots" } }));
        Assert.Equal("min_p", bad.ParamName);
    }

    [Fact]
    public void Metadata_and_services_describe_the_local_model()
    {
        var client = new OnnxChatClient(Model, new OnnxChatClientOptions { ModelId = "stories" });
        var metadata = client.GetService<ChatClientMetadata>();
        Assert.Equal("llmkit", metadata!.ProviderName);
        Assert.Equal("stories", metadata.DefaultModelId);
        Assert.Same(Model, client.GetService<OnnxGenAIModel>());
        Assert.Same(client, client.GetService<OnnxChatClient>());
        Assert.Null(client.GetService<ChatClientMetadata>("some-key"));
    }

    [Fact]
    public async Task Multi_turn_history_is_rendered_by_the_chosen_template()
    {
        // With the Llama 2 template, the prompt the model sees is the template's text; the response must equal a
        // direct generation from exactly those tokens.
        var client = new OnnxChatClient(Model, new OnnxChatClientOptions { ChatTemplate = ChatTemplateKind.Llama2 });
        ChatMessage[] history = [new(ChatRole.System, "Be kind."), new(ChatRole.User, "Hi"), new(ChatRole.Assistant, "Hello"), new(ChatRole.User, "Tell a story")];
        var response = await client.GetResponseAsync(history, new ChatOptions { Temperature = 0, MaxOutputTokens = 20 });

        string text = "[INST] <<SYS>>\nBe kind.\n<</SYS>>\n\nHi [/INST] Hello </s><s>[INST] Tell a story [/INST]";
        int[] ids = [Model.Tokenizer.BosTokenId, .. Model.Tokenizer.Encode(text, addBos: false)];
        var direct = await Model.GenerateAsync(ids, new GenerationOptions { Temperature = 0, MaxNewTokens = 20 });
        Assert.Equal(direct.Text, response.Text);
        Assert.Equal(ids.Length, response.Usage!.InputTokenCount);
    }

    [Fact]
    public void Instructions_extend_the_leading_system_message_or_become_one()
    {
        var withSystem = ChatOptionsMapper.ToTemplateMessages([new(ChatRole.System, "Be kind."), new(ChatRole.User, "Hi")], "Be brief.");
        Assert.Equal([new(ChatTemplateRole.System, "Be kind.\nBe brief."), new(ChatTemplateRole.User, "Hi")], withSystem);

        var withoutSystem = ChatOptionsMapper.ToTemplateMessages([new(ChatRole.User, "Hi")], "Be brief.");
        Assert.Equal([new(ChatTemplateRole.System, "Be brief."), new(ChatTemplateRole.User, "Hi")], withoutSystem);
    }

    [Fact]
    public async Task Instructions_reach_the_rendered_prompt()
    {
        // Through the Llama 2 template the instructions land in the <<SYS>> block; the tokens must equal that text's.
        var client = new OnnxChatClient(Model, new OnnxChatClientOptions { ChatTemplate = ChatTemplateKind.Llama2 });
        var response = await client.GetResponseAsync("Hi", new ChatOptions { Instructions = "Be kind.", Temperature = 0, MaxOutputTokens = 3 });
        int expected = 1 + Model.Tokenizer.Encode("[INST] <<SYS>>\nBe kind.\n<</SYS>>\n\nHi [/INST]", addBos: false).Length;
        Assert.Equal(expected, response.Usage!.InputTokenCount);
    }

    [Fact]
    public async Task Composes_with_ChatClientBuilder_OpenTelemetry_and_logging_middleware()
    {
        var activities = new List<Activity>();
        const string source = "LlmKit.Tests.ChatPipeline";
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == source,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = a => { lock (activities) { activities.Add(a); } },
        };
        ActivitySource.AddActivityListener(listener);
        var logs = new CapturingLoggerFactory();

        using IChatClient pipeline = new ChatClientBuilder(new OnnxChatClient(Model))
            .UseOpenTelemetry(sourceName: source)
            .UseLogging(logs)
            .Build();
        var response = await pipeline.GetResponseAsync(Prompt, new ChatOptions { Temperature = 0, MaxOutputTokens = 10 });

        Assert.Equal(10, response.Usage!.OutputTokenCount);
        var activity = Assert.Single(activities);
        Assert.Equal(10, Convert.ToInt32(activity.GetTagItem("gen_ai.usage.output_tokens"), System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal("llmkit", activity.GetTagItem("gen_ai.provider.name") ?? activity.GetTagItem("gen_ai.system"));
        Assert.Contains(logs.Entries, e => e.Category.Contains("LoggingChatClient", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_runtime_activity_named_LlmKit_carries_usage_and_no_user_text()
    {
        // Other tests generate concurrently, so only activities under this test's own parent activity are counted.
        using var parentSource = new ActivitySource("LlmKit.Tests.Parent");
        var mine = new List<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name is LlmKit.Diagnostics.LlmKitTelemetry.Name or "LlmKit.Tests.Parent",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = a => { lock (mine) { mine.Add(a); } },
        };
        ActivitySource.AddActivityListener(listener);

        ActivityTraceId trace;
        using (var parent = parentSource.StartActivity("test")!)
        {
            trace = parent.TraceId;
            await new OnnxChatClient(Model).GetResponseAsync(Prompt, new ChatOptions { Temperature = 0, MaxOutputTokens = 6 });
        }

        Activity generate;
        lock (mine)
        {
            generate = Assert.Single(mine, a => a.TraceId == trace && a.Source.Name == "LlmKit");
        }

        Assert.Equal("llmkit.generate", generate.OperationName);
        Assert.Equal(6, Convert.ToInt32(generate.GetTagItem("gen_ai.usage.output_tokens"), System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(Model.Tokenizer.Encode(LoadedModels.ReferencePrompt).Length, Convert.ToInt32(generate.GetTagItem("gen_ai.usage.input_tokens"), System.Globalization.CultureInfo.InvariantCulture));
        Assert.DoesNotContain(generate.TagObjects, t => t.Value is string v && v.Contains(LoadedModels.ReferencePrompt, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Each_response_is_logged_with_its_token_counts_and_speed()
    {
        var logs = new CapturingLoggerFactory();
        var client = new OnnxChatClient(Model, logger: logs.CreateLogger<OnnxChatClient>());
        await client.GetResponseAsync(Prompt, new ChatOptions { Temperature = 0, MaxOutputTokens = 9 });
        await foreach (var _ in client.GetStreamingResponseAsync(Prompt, new ChatOptions { Temperature = 0, MaxOutputTokens = 4 }))
        {
        }

        var lines = logs.Entries.Where(e => e.Level == LogLevel.Information).Select(e => e.Message).ToList();
        Assert.Equal(2, lines.Count);
        Assert.Contains("generated 9 tokens", lines[0], StringComparison.Ordinal);
        Assert.Contains("tok/s", lines[0], StringComparison.Ordinal);
        Assert.Contains("generated 4 tokens", lines[1], StringComparison.Ordinal);
        Assert.DoesNotContain(LoadedModels.ReferencePrompt, string.Concat(lines), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cancelling_a_stream_stops_it_and_the_client_keeps_working()
    {
        var client = new OnnxChatClient(Model);
        using var cts = new CancellationTokenSource();
        int received = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var _ in client.GetStreamingResponseAsync(Prompt, new ChatOptions { Temperature = 0, MaxOutputTokens = 200 }, cts.Token))
            {
                if (++received == 3)
                {
                    await cts.CancelAsync();
                }
            }
        });

        Assert.Equal(3, received);
        var after = await client.GetResponseAsync(Prompt, new ChatOptions { Temperature = 0, MaxOutputTokens = 5 });
        Assert.Equal(5, after.Usage!.OutputTokenCount);
    }

    [Fact]
    public async Task Concurrent_requests_equal_sequential_ones()
    {
        var client = new OnnxChatClient(Model);
        string[] prompts = ["Once upon a time", "The dog", "Lily saw", "Tom had"];
        var options = new ChatOptions { Temperature = 0, MaxOutputTokens = 30 };
        var sequential = new List<string>();
        foreach (string p in prompts)
        {
            sequential.Add((await client.GetResponseAsync(p, options)).Text);
        }

        var concurrent = await Task.WhenAll(prompts.Select(p => Task.Run(() => client.GetResponseAsync(p, options))));
        Assert.Equal(sequential, concurrent.Select(r => r.Text));
    }

    [Fact]
    public async Task Beam_search_through_additional_properties_returns_one_message_per_sequence()
    {
        var client = new OnnxChatClient(Model, new OnnxChatClientOptions { ChatTemplate = LlmKit.Chat.Templates.ChatTemplateKind.None });
        var options = new ChatOptions
        {
            MaxOutputTokens = 16,
            AdditionalProperties = new AdditionalPropertiesDictionary { ["num_beams"] = 4, ["num_return_sequences"] = 3, ["length_penalty"] = 1.0, ["early_stopping"] = true },
        };

        var response = await client.GetResponseAsync(Prompt, options);

        var beams = Model.BeamSearch(Model.Tokenizer.Encode(LoadedModels.ReferencePrompt), new GenerationOptions { MaxNewTokens = 16, NumBeams = 4, NumReturnSequences = 3 });
        Assert.Equal(3, response.Messages.Count);
        Assert.All(response.Messages, m => Assert.Equal(ChatRole.Assistant, m.Role));
        Assert.Equal(beams.Select(b => b.GeneratedTokenIds.ToArray()), response.Messages.Select(m => ((GeneratedSequence)m.RawRepresentation!).TokenIds.ToArray()));
    }

    [Fact]
    public async Task Beam_search_cannot_stream_and_says_so()
    {
        var client = new OnnxChatClient(Model);
        var options = new ChatOptions { AdditionalProperties = new AdditionalPropertiesDictionary { ["num_beams"] = 2 } };
        var ex = await Assert.ThrowsAsync<NotSupportedException>(async () =>
        {
            await foreach (var _ in client.GetStreamingResponseAsync(Prompt, options))
            {
            }
        });
        Assert.Contains("Beam search", ex.Message, StringComparison.Ordinal);
    }
}


/// <summary>A minimal in-memory logger factory for asserting on log output.</summary>
internal sealed class CapturingLoggerFactory : ILoggerFactory
{
    private readonly List<(string Category, LogLevel Level, string Message)> _entries = [];

    public IReadOnlyList<(string Category, LogLevel Level, string Message)> Entries
    {
        get
        {
            lock (_entries)
            {
                return [.. _entries];
            }
        }
    }

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void AddProvider(ILoggerProvider provider)
    {
    }

    public void Dispose()
    {
    }

    private sealed class Logger(CapturingLoggerFactory owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (owner._entries)
            {
                owner._entries.Add((category, logLevel, formatter(state, exception)));
            }
        }
    }
}
