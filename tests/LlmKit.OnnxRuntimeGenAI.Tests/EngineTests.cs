using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Text.Json.Nodes;
using LlmKit.Diagnostics;
using LlmKit.Generation;
using LlmKit.Models;
using LlmKit.Testing;

namespace LlmKit.OnnxRuntimeGenAI.Tests;

/// <summary>The engine's own contract: finish reasons, limits and errors that name what is wrong.</summary>
[Collection(OgaModelsCollection.Name)]
public sealed class EngineTests(OgaModels models)
{
    [Fact]
    public async Task A_long_story_has_the_same_ids_text_and_finish_reason_as_LlmKits_own_engine()
    {
        var options = new GenerationOptions { Temperature = 0, MaxNewTokens = 400 };
        int[] prompt = LoadedModels.Stories260K.Tokenizer.Encode(LoadedModels.ReferencePrompt);
        var ours = await models.Stories260K.GenerateAsync(prompt, options);
        var llmkit = await LoadedModels.Stories260K.GenerateAsync(prompt, options);

        Assert.Equal(llmkit.TokenIds, ours.TokenIds);
        Assert.Equal(llmkit.Text, ours.Text);
        Assert.Equal(llmkit.FinishReason, ours.FinishReason);
        Assert.Equal(GenerationFinishReason.MaxNewTokens, ours.FinishReason);
        Assert.StartsWith(SharedFixtures.Stories260KReferenceText, LoadedModels.ReferencePrompt + ours.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task End_of_sequence_is_reported_and_the_folders_min_length_is_honoured()
    {
        // The random gpt2 never picks its eos id (98) greedily, so a copy declares 114 (second token of a README row) as eos.
        string copy = CopyFolder(OgaModels.Gpt2Folder, config =>
        {
            config["model"]!["eos_token_id"] = 114;
            config["model"]!["pad_token_id"] = 114;
        });
        try
        {
            using (var engine = OnnxRuntimeGenAIEngine.Load(copy, new OnnxRuntimeGenAIEngineOptions { IntraOpThreads = 1 }))
            {
                var result = await engine.GenerateAsync([0, 0, 195, 731], new GenerationOptions { Temperature = 0, MaxNewTokens = 6 });
                Assert.Equal([731, 114], result.TokenIds); // the eos id counts as a generated token, as in LlmKit's own engine
                Assert.Equal(GenerationFinishReason.EndOfSequence, result.FinishReason);

                var updates = new List<GenerationUpdate>();
                await foreach (var update in engine.GenerateStreamingAsync([0, 0, 195, 731], new GenerationOptions { Temperature = 0, MaxNewTokens = 6 }))
                {
                    updates.Add(update);
                }

                Assert.Equal([731, 114], updates.Select(u => u.TokenId));
                Assert.Equal(GenerationFinishReason.EndOfSequence, updates[^1].FinishReason);
            }

            // search.min_length counts the prompt in onnxruntime-genai: eos is masked until the sequence holds 8 tokens.
            var config = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(copy, "genai_config.json")))!;
            config["search"] = new JsonObject { ["min_length"] = 8 };
            await File.WriteAllTextAsync(Path.Combine(copy, "genai_config.json"), config.ToJsonString());
            using (var engine = OnnxRuntimeGenAIEngine.Load(copy, new OnnxRuntimeGenAIEngineOptions { IntraOpThreads = 1 }))
            {
                var result = await engine.GenerateAsync([0, 0, 195, 731], new GenerationOptions { Temperature = 0, MaxNewTokens = 6 });
                Assert.DoesNotContain(114, result.TokenIds.Take(3));
                Assert.True(result.TokenIds.Count >= 4, $"min_length 8 allows no eos before 4 new tokens; got {string.Join(",", result.TokenIds)}");
            }
        }
        finally
        {
            Directory.Delete(copy, recursive: true);
        }
    }

    [Fact]
    public async Task Generations_are_traced_and_counted_on_LlmKits_telemetry_tagged_with_the_engine()
    {
        string modelId = "telemetry-" + Guid.NewGuid().ToString("N");
        using var engine = OnnxRuntimeGenAIEngine.Load(OgaModels.Gpt2Folder, new OnnxRuntimeGenAIEngineOptions { IntraOpThreads = 1, ModelId = modelId });
        var activities = new List<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == LlmKitTelemetry.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity =>
            {
                if (Equals(activity.GetTagItem("gen_ai.request.model"), modelId))
                {
                    lock (activities)
                    {
                        activities.Add(activity);
                    }
                }
            },
        };
        ActivitySource.AddActivityListener(listener);

        long outputTokens = 0;
        using var meters = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == LlmKitTelemetry.Name && instrument.Name == "llmkit.tokens.output")
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        meters.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "llmkit.engine" && Equals(tag.Value, "onnxruntime-genai"))
                {
                    Interlocked.Add(ref outputTokens, value);
                }
            }
        });
        meters.Start();

        await engine.GenerateAsync([0, 0, 0, 52], new GenerationOptions { Temperature = 0, MaxNewTokens = 6 });

        var activity = Assert.Single(activities);
        Assert.Equal("llmkit.generate", activity.OperationName);
        Assert.Equal("onnxruntime-genai", activity.GetTagItem("llmkit.engine"));
        Assert.Equal(6, activity.GetTagItem("gen_ai.usage.output_tokens"));
        Assert.Equal("MaxNewTokens", activity.GetTagItem("gen_ai.response.finish_reasons"));
        Assert.True(Interlocked.Read(ref outputTokens) >= 6, $"the output-token counter must see this run's 6 tokens (saw {outputTokens})");
    }

    [Fact]
    public async Task The_max_length_ends_generation_with_ContextLength()
    {
        using var engine = OnnxRuntimeGenAIEngine.Load(OgaModels.Gpt2Folder, new OnnxRuntimeGenAIEngineOptions { MaxLength = 8, IntraOpThreads = 1, ModelId = "tiny" });
        Assert.Equal(8, engine.MaxLength);
        Assert.Equal("tiny", engine.ModelId);
        var result = await engine.GenerateAsync([0, 0, 195, 731], new GenerationOptions { Temperature = 0, MaxNewTokens = 100 });
        Assert.Equal([731, 114, 114, 114], result.TokenIds);
        Assert.Equal(GenerationFinishReason.ContextLength, result.FinishReason);

        var error = await Assert.ThrowsAsync<ArgumentException>(() => engine.GenerateAsync([1, 2, 3, 4, 5, 6, 7, 8], null));
        Assert.Contains("max length is 8", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bad_prompts_and_settings_fail_at_the_call_with_what_is_wrong()
    {
        var engine = models.Gpt2;
        await Assert.ThrowsAsync<ArgumentException>(() => engine.GenerateAsync([], null));
        var outside = Assert.Throws<ArgumentException>(() => engine.GenerateStreamingAsync([5, 1000], null));
        Assert.Contains("Token id 1000 is outside the vocabulary [0, 1000)", outside.Message, StringComparison.Ordinal);
        var range = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => engine.GenerateAsync([5], new GenerationOptions { TopP = 0 }));
        Assert.Equal("TopP", range.ParamName);
        var presence = await Assert.ThrowsAsync<NotSupportedException>(() => engine.GenerateAsync([5], new GenerationOptions { PresencePenalty = 1 }));
        Assert.Contains("PresencePenalty (presence_penalty)", presence.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Folders_that_cannot_load_name_the_path_and_the_problem()
    {
        string missing = Path.Combine(Path.GetTempPath(), "llmkit-oga-missing-" + Guid.NewGuid().ToString("N"));
        var error = Assert.Throws<ModelFolderException>(() => OnnxRuntimeGenAIEngine.Load(missing));
        Assert.Contains(missing, error.Message, StringComparison.Ordinal);

        string empty = Directory.CreateTempSubdirectory("llmkit-oga-empty-").FullName;
        try
        {
            error = Assert.Throws<ModelFolderException>(() => OnnxRuntimeGenAIEngine.Load(empty));
            Assert.Contains("genai_config.json", error.Message, StringComparison.Ordinal);
            Assert.Equal(Path.Combine(empty, "genai_config.json"), error.FilePath);
        }
        finally
        {
            Directory.Delete(empty, recursive: true);
        }

        Assert.Throws<ArgumentOutOfRangeException>(() => OnnxRuntimeGenAIEngine.Load(OgaModels.Gpt2Folder, new OnnxRuntimeGenAIEngineOptions { IntraOpThreads = 0 }));
    }

    [Fact]
    public void Beam_search_in_the_folder_is_refused_with_the_field_named()
    {
        string copy = CopyFolder(TestModels.Stories260KFolder, config => config["search"]!["num_beams"] = 2);
        try
        {
            using var engine = OnnxRuntimeGenAIEngine.Load(copy, new OnnxRuntimeGenAIEngineOptions { IntraOpThreads = 1 });
            var error = Assert.Throws<NotSupportedException>(() => engine.GenerateStreamingAsync([1, 5], null));
            Assert.Contains("search.num_beams is 2", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(copy, recursive: true);
        }
    }

    // A temporary copy of a model folder with its genai_config.json edited.
    private static string CopyFolder(string folder, Action<JsonNode> edit)
    {
        string copy = Directory.CreateTempSubdirectory("llmkit-oga-").FullName;
        foreach (string file in Directory.GetFiles(folder))
        {
            File.Copy(file, Path.Combine(copy, Path.GetFileName(file)));
        }

        string configPath = Path.Combine(copy, "genai_config.json");
        var config = JsonNode.Parse(File.ReadAllText(configPath))!;
        edit(config);
        File.WriteAllText(configPath, config.ToJsonString());
        return copy;
    }
}
