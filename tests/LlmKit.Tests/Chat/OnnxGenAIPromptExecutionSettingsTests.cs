using System.Text.Json;
using System.Text.Json.Nodes;
using LlmKit.Chat;
using LlmKit.Generation;
using Microsoft.SemanticKernel;

namespace LlmKit.Tests.Chat;

/// <summary>Settings JSON names, conversion from generic settings, and the mapping onto generation options.</summary>
public class OnnxGenAIPromptExecutionSettingsTests
{
    // Every JSON name SK's OnnxRuntimeGenAIPromptExecutionSettings declares (semantic-kernel, Connectors.Onnx).
    private static readonly string[] SkOnnxConnectorNames =
    [
        "top_k", "top_p", "temperature", "repetition_penalty", "past_present_share_buffer", "num_return_sequences", "num_beams",
        "no_repeat_ngram_size", "min_tokens", "max_tokens", "length_penalty", "diversity_penalty", "early_stopping", "do_sample",
    ];

    [Fact]
    public void Serialized_names_are_snake_case_and_round_trip()
    {
        var settings = new OnnxGenAIPromptExecutionSettings
        {
            Temperature = 0.5f, TopP = 0.9f, TopK = 20, MaxTokens = 64, RepetitionPenalty = 1.2f, Seed = 42, StopSequences = ["\n\n", "END"],
            FrequencyPenalty = 0.3f, PresencePenalty = -0.1f, MinP = 0.05f, NoRepeatNGramSize = 3, ModelId = "m", ServiceId = "s",
        };

        string json = JsonSerializer.Serialize(settings);
        var names = JsonNode.Parse(json)!.AsObject().Select(p => p.Key).ToHashSet();
        foreach (string name in new[] { "temperature", "top_p", "top_k", "max_tokens", "repetition_penalty", "seed", "stop_sequences", "frequency_penalty", "presence_penalty", "min_p", "no_repeat_ngram_size" })
        {
            Assert.Contains(name, names);
        }

        var back = JsonSerializer.Deserialize<OnnxGenAIPromptExecutionSettings>(json)!;
        Assert.Equal(settings.ToGenerationOptions() with { StopSequences = null }, back.ToGenerationOptions() with { StopSequences = null });
        Assert.Equal(["\n\n", "END"], back.StopSequences!);
        Assert.Equal("s", back.ServiceId);
    }

    [Fact]
    public void Every_name_the_SK_ONNX_connector_accepts_is_accepted()
    {
        var json = new JsonObject();
        foreach (string name in SkOnnxConnectorNames)
        {
            json[name] = name switch
            {
                "past_present_share_buffer" or "early_stopping" => true,
                "do_sample" => false,
                "num_return_sequences" or "num_beams" => 1,
                "min_tokens" or "diversity_penalty" => 0,
                "top_k" or "no_repeat_ngram_size" => 4,
                "max_tokens" => 30,
                _ => 0.8,
            };
        }

        var generic = new PromptExecutionSettings { ExtensionData = JsonSerializer.Deserialize<Dictionary<string, object>>(json.ToJsonString()) };
        var options = OnnxGenAIPromptExecutionSettings.FromExecutionSettings(generic).ToGenerationOptions();

        Assert.Equal(30, options.MaxNewTokens); // max_tokens counts new tokens
        Assert.Equal(4, options.TopK);
        Assert.Equal(0.8f, options.TopP);
        Assert.Equal(0.8f, options.RepetitionPenalty);
        Assert.Equal(4, options.NoRepeatNGramSize);
        Assert.Equal(0f, options.Temperature); // do_sample false means greedy whatever the temperature, as in onnxruntime-genai
    }

    [Fact]
    public void Generic_settings_convert_from_strings_and_numbers()
    {
        var generic = new PromptExecutionSettings
        {
            ModelId = "x",
            ExtensionData = new Dictionary<string, object> { ["temperature"] = "0.25", ["max_tokens"] = 12L, ["stop_sequences"] = new[] { "a" }, ["seed"] = 9 },
        };

        var settings = OnnxGenAIPromptExecutionSettings.FromExecutionSettings(generic);

        Assert.Equal(0.25f, settings.Temperature);
        Assert.Equal(12, settings.MaxTokens);
        Assert.Equal(9, settings.Seed);
        Assert.Equal(["a"], settings.StopSequences!);
        Assert.Equal("x", settings.ModelId);
        Assert.Null(settings.ExtensionData);
    }

    [Fact]
    public void Do_sample_true_without_a_temperature_samples_at_temperature_one()
    {
        Assert.Equal(1f, new OnnxGenAIPromptExecutionSettings { DoSample = true }.ToGenerationOptions().Temperature);
        Assert.Equal(0.3f, new OnnxGenAIPromptExecutionSettings { DoSample = true, Temperature = 0.3f }.ToGenerationOptions().Temperature);
        Assert.Null(new OnnxGenAIPromptExecutionSettings().ToGenerationOptions().Temperature);
    }

    [Theory]
    [InlineData("num_return_sequences", 3)]
    [InlineData("diversity_penalty", 0.5)]
    public void Unimplemented_settings_throw_not_supported_naming_them(string name, object value)
    {
        var settings = OnnxGenAIPromptExecutionSettings.FromExecutionSettings(new PromptExecutionSettings { ExtensionData = new Dictionary<string, object> { [name] = value } });
        var ex = Assert.Throws<NotSupportedException>(settings.ToGenerationOptions);
        Assert.Contains($"'{name}'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Beam_settings_map_to_the_generation_options()
    {
        var settings = OnnxGenAIPromptExecutionSettings.FromExecutionSettings(new PromptExecutionSettings
        {
            ExtensionData = new Dictionary<string, object> { ["num_beams"] = 4, ["num_return_sequences"] = 2, ["length_penalty"] = 0.8, ["early_stopping"] = false },
        });
        var options = settings.ToGenerationOptions();
        Assert.Equal(4, options.NumBeams);
        Assert.Equal(2, options.NumReturnSequences);
        Assert.Equal(0.8f, options.LengthPenalty);
        Assert.False(options.EarlyStopping);
    }

    [Fact]
    public void Prompt_lookup_draft_tokens_maps_to_prompt_lookup_and_zero_turns_it_off()
    {
        var generic = new PromptExecutionSettings { ExtensionData = new Dictionary<string, object> { ["prompt_lookup_draft_tokens"] = "6" } };
        var settings = OnnxGenAIPromptExecutionSettings.FromExecutionSettings(generic);
        Assert.Equal(6, settings.ToGenerationOptions().PromptLookup!.DraftTokens);
        Assert.Equal(6, ((OnnxGenAIPromptExecutionSettings)settings.Clone()).PromptLookupDraftTokens);
        Assert.Null(new OnnxGenAIPromptExecutionSettings { PromptLookupDraftTokens = 0 }.ToGenerationOptions().PromptLookup);
        Assert.Null(new OnnxGenAIPromptExecutionSettings().ToGenerationOptions().PromptLookup);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new OnnxGenAIPromptExecutionSettings { PromptLookupDraftTokens = 65 }.ToGenerationOptions());
        Assert.Equal("prompt_lookup_draft_tokens", ex.ParamName);
    }

    [Fact]
    public void Min_tokens_maps_to_min_new_tokens()
    {
        var settings = OnnxGenAIPromptExecutionSettings.FromExecutionSettings(new PromptExecutionSettings { ExtensionData = new Dictionary<string, object> { ["min_tokens"] = 5 } });
        Assert.Equal(5, settings.ToGenerationOptions().MinNewTokens);
    }

    [Theory]
    [InlineData("temperature", -1.0)]
    [InlineData("top_p", 0.0)]
    [InlineData("top_k", -3.0)]
    [InlineData("max_tokens", 0.0)]
    [InlineData("repetition_penalty", 0.0)]
    [InlineData("frequency_penalty", 2.5)]
    [InlineData("presence_penalty", -2.5)]
    [InlineData("min_p", 1.5)]
    [InlineData("no_repeat_ngram_size", -1.0)]
    [InlineData("num_beams", 0.0)]
    public void Out_of_range_values_fail_with_the_json_name_as_parameter(string name, double value)
    {
        object boxed = name is "top_k" or "max_tokens" or "no_repeat_ngram_size" or "num_beams" ? (int)value : value;
        var settings = OnnxGenAIPromptExecutionSettings.FromExecutionSettings(new PromptExecutionSettings { ExtensionData = new Dictionary<string, object> { [name] = boxed } });
        var ex = Assert.Throws<ArgumentOutOfRangeException>(settings.ToGenerationOptions);
        Assert.Equal(name, ex.ParamName);
        Assert.Contains(name, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_wrong_json_type_is_an_argument_error()
    {
        var generic = new PromptExecutionSettings { ExtensionData = new Dictionary<string, object> { ["top_k"] = "many" } };
        var ex = Assert.Throws<ArgumentException>(() => OnnxGenAIPromptExecutionSettings.FromExecutionSettings(generic));
        Assert.Contains("top_k", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Frozen_settings_cannot_change_and_clones_are_independent()
    {
        var settings = new OnnxGenAIPromptExecutionSettings { Temperature = 0.1f, StopSequences = ["x"] };
        var clone = (OnnxGenAIPromptExecutionSettings)settings.Clone();
        settings.Freeze();

        Assert.Throws<InvalidOperationException>(() => settings.Temperature = 1);
        Assert.Throws<NotSupportedException>(() => settings.StopSequences!.Add("y"));
        clone.Temperature = 0.9f;
        Assert.Equal(0.1f, settings.Temperature);
        Assert.Equal(["x"], clone.StopSequences!);
    }

    [Fact]
    public void The_same_instance_is_returned_when_already_typed()
    {
        var settings = new OnnxGenAIPromptExecutionSettings { TopK = 2 };
        Assert.Same(settings, OnnxGenAIPromptExecutionSettings.FromExecutionSettings(settings));
        Assert.Equal(new GenerationOptions(), OnnxGenAIPromptExecutionSettings.FromExecutionSettings(null).ToGenerationOptions());
    }
}
