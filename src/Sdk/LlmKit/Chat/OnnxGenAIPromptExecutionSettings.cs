using System.Text.Json;
using System.Text.Json.Serialization;
using LlmKit.Generation;
using Microsoft.SemanticKernel;

namespace LlmKit.Chat;

/// <summary>
/// Semantic Kernel execution settings for LlmKit's ONNX GenAI services. JSON names are snake_case so prompt
/// templates and YAML functions can set them, and every name SK's ONNX connector
/// (<c>OnnxRuntimeGenAIPromptExecutionSettings</c>) accepts is accepted, so existing prompt files keep working.
/// </summary>
/// <remarks>
/// <para><c>max_tokens</c> counts NEW tokens only (the prompt does not count).</para>
/// <para><c>min_tokens</c> is the fewest NEW tokens before end of sequence.</para>
/// <para>Beam search: <c>num_beams</c>, <c>num_return_sequences</c> (returned as that many messages, best first),
/// <c>length_penalty</c> and <c>early_stopping</c>, as onnxruntime-genai runs it. <c>function_choice_behavior</c> (Auto / Required / None) is carried out by
/// <see cref="OnnxGenAIChatCompletionService"/> (it is not a generation setting). Any unknown name fails with <see cref="NotSupportedException"/> naming the setting: nothing is
/// dropped silently. <c>diversity_penalty</c> must be 0 (no group beam search); <c>past_present_share_buffer</c> only
/// concerns the KV memory layout, so it is accepted and has no effect.</para>
/// <para>Not thread-safe while being modified; call <see cref="PromptExecutionSettings.Freeze"/> to share an instance.</para>
/// </remarks>
public sealed class OnnxGenAIPromptExecutionSettings : PromptExecutionSettings
{
    private static readonly JsonSerializerOptions ConversionOptions = new()
    {
        NumberHandling = JsonNumberHandling.AllowReadingFromString,
        Converters = { new TypeAsNullConverter() },
    };

    private float? _temperature;
    private float? _topP;
    private int? _topK;
    private float? _minP;
    private int? _maxTokens;
    private float? _repetitionPenalty;
    private float? _frequencyPenalty;
    private float? _presencePenalty;
    private int? _noRepeatNGramSize;
    private long? _seed;
    private IList<string>? _stopSequences;
    private bool? _doSample;
    private int? _numBeams;
    private int? _numReturnSequences;
    private int? _minTokens;
    private string? _adapter;
    private int? _promptLookupDraftTokens;
    private float? _lengthPenalty;
    private float? _diversityPenalty;
    private bool? _earlyStopping;
    private bool? _pastPresentShareBuffer;
    private object? _responseFormat;

    /// <summary>Sampling temperature, &gt;= 0 (0 = greedy).</summary>
    [JsonPropertyName("temperature")]
    public float? Temperature { get => _temperature; set => Set(ref _temperature, value); }

    /// <summary>Nucleus sampling threshold in (0, 1].</summary>
    [JsonPropertyName("top_p")]
    public float? TopP { get => _topP; set => Set(ref _topP, value); }

    /// <summary>Keep the k most likely tokens, &gt;= 0 (0 = off).</summary>
    [JsonPropertyName("top_k")]
    public int? TopK { get => _topK; set => Set(ref _topK, value); }

    /// <summary>Drop tokens less likely than min_p times the most likely one, in [0, 1].</summary>
    [JsonPropertyName("min_p")]
    public float? MinP { get => _minP; set => Set(ref _minP, value); }

    /// <summary>Most NEW tokens to generate, &gt; 0 (the prompt does not count).</summary>
    [JsonPropertyName("max_tokens")]
    public int? MaxTokens { get => _maxTokens; set => Set(ref _maxTokens, value); }

    /// <summary>Hugging Face repetition penalty, &gt; 0 (1 = off).</summary>
    [JsonPropertyName("repetition_penalty")]
    public float? RepetitionPenalty { get => _repetitionPenalty; set => Set(ref _repetitionPenalty, value); }

    /// <summary>OpenAI-style frequency penalty in [-2, 2].</summary>
    [JsonPropertyName("frequency_penalty")]
    public float? FrequencyPenalty { get => _frequencyPenalty; set => Set(ref _frequencyPenalty, value); }

    /// <summary>OpenAI-style presence penalty in [-2, 2].</summary>
    [JsonPropertyName("presence_penalty")]
    public float? PresencePenalty { get => _presencePenalty; set => Set(ref _presencePenalty, value); }

    /// <summary>Forbid repeating any n-gram of this size, &gt;= 0 (0 = off).</summary>
    [JsonPropertyName("no_repeat_ngram_size")]
    public int? NoRepeatNGramSize { get => _noRepeatNGramSize; set => Set(ref _noRepeatNGramSize, value); }

    /// <summary>Sampler seed for reproducible sampling.</summary>
    [JsonPropertyName("seed")]
    public long? Seed { get => _seed; set => Set(ref _seed, value); }

    /// <summary>Texts that end generation; matched across token boundaries and not emitted.</summary>
    [JsonPropertyName("stop_sequences")]
    public IList<string>? StopSequences { get => _stopSequences; set => Set(ref _stopSequences, value); }

    /// <summary>onnxruntime-genai's switch: false decodes greedily whatever the temperature; true samples (temperature 1 unless set).</summary>
    [JsonPropertyName("do_sample")]
    public bool? DoSample { get => _doSample; set => Set(ref _doSample, value); }

    /// <summary>Beam count; only 1 is supported (beam search is not implemented).</summary>
    [JsonPropertyName("num_beams")]
    public int? NumBeams { get => _numBeams; set => Set(ref _numBeams, value); }

    /// <summary>Sequences per request; only 1 is supported.</summary>
    [JsonPropertyName("num_return_sequences")]
    public int? NumReturnSequences { get => _numReturnSequences; set => Set(ref _numReturnSequences, value); }

    /// <summary>
    /// The LoRA adapter to run with: a name given to <c>OnnxGenAIModel.LoadAdapter</c>; null runs the base model
    /// (<see cref="GenerationOptions.Adapter"/>).
    /// </summary>
    [JsonPropertyName("adapter")]
    public string? Adapter { get => _adapter; set => Set(ref _adapter, value); }

    /// <summary>
    /// Speculative decoding by prompt lookup with at most this many draft tokens per run, in [1, 64]; 0 or null turns it
    /// off (<see cref="GenerationOptions.PromptLookup"/>, the same output, faster when the answer repeats the prompt).
    /// The same name as M.E.AI's <c>AdditionalProperties["prompt_lookup_draft_tokens"]</c>.
    /// </summary>
    [JsonPropertyName("prompt_lookup_draft_tokens")]
    public int? PromptLookupDraftTokens { get => _promptLookupDraftTokens; set => Set(ref _promptLookupDraftTokens, value); }

    /// <summary>Least new tokens before EOS may end generation; only 0 is supported.</summary>
    [JsonPropertyName("min_tokens")]
    public int? MinTokens { get => _minTokens; set => Set(ref _minTokens, value); }

    /// <summary>Beam-search length penalty; accepted for compatibility, no effect without beam search.</summary>
    [JsonPropertyName("length_penalty")]
    public float? LengthPenalty { get => _lengthPenalty; set => Set(ref _lengthPenalty, value); }

    /// <summary>Beam-search diversity penalty; accepted for compatibility, no effect without beam search.</summary>
    [JsonPropertyName("diversity_penalty")]
    public float? DiversityPenalty { get => _diversityPenalty; set => Set(ref _diversityPenalty, value); }

    /// <summary>Beam-search early stopping; accepted for compatibility, no effect without beam search.</summary>
    [JsonPropertyName("early_stopping")]
    public bool? EarlyStopping { get => _earlyStopping; set => Set(ref _earlyStopping, value); }

    /// <summary>KV buffer layout hint; accepted for compatibility (LlmKit follows the model folder), no effect on output.</summary>
    [JsonPropertyName("past_present_share_buffer")]
    public bool? PastPresentShareBuffer { get => _pastPresentShareBuffer; set => Set(ref _pastPresentShareBuffer, value); }

    /// <summary>
    /// Structured output, as SK's OpenAI connector accepts it: <c>"json_object"</c> (any JSON value) or <c>"text"</c>; a
    /// <see cref="Type"/> (its JSON schema, built as the OpenAI connector builds it: no additional properties, every
    /// property required); a JSON schema as a <see cref="JsonElement"/>, <see cref="System.Text.Json.Nodes.JsonNode"/> or
    /// JSON text, bare or wrapped as <c>{"type":"json_schema","json_schema":{"schema":...}}</c> (<c>{"type":"json_object"}</c>
    /// also works); an M.E.AI <see cref="Microsoft.Extensions.AI.ChatResponseFormat"/>; or an LlmKit
    /// <see cref="Generation.Constraints.OutputConstraint"/> (a regex, a choice...). Decoding is then constrained so
    /// the reply is valid (see <see cref="Generation.Constraints.OutputConstraint.JsonSchema(JsonElement)"/> for the schema subset).
    /// </summary>
    [JsonPropertyName("response_format")]
    public object? ResponseFormat { get => _responseFormat; set => Set(ref _responseFormat, value); }

    /// <summary>
    /// Converts any settings object into this type: this type is returned as is, others go through their JSON form, so
    /// snake_case names from a prompt template's <c>ExtensionData</c> land on the matching properties.
    /// </summary>
    /// <param name="executionSettings">Settings from a caller, a prompt template or a YAML function; null gives empty settings.</param>
    /// <exception cref="ArgumentException">A value has the wrong JSON type.</exception>
    public static OnnxGenAIPromptExecutionSettings FromExecutionSettings(PromptExecutionSettings? executionSettings)
    {
        switch (executionSettings)
        {
            case null:
                return new OnnxGenAIPromptExecutionSettings();
            case OnnxGenAIPromptExecutionSettings settings:
                return settings;
        }

        // The function choice behavior holds kernel function references that do not survive JSON: carry it over as is.
        var behavior = executionSettings.FunctionChoiceBehavior;
        var source = executionSettings;
        if (behavior is not null)
        {
            source = executionSettings.Clone();
            source.FunctionChoiceBehavior = null;
        }

        try
        {
            // A response format that is a Type or an object (OpenAI's settings allow both) does not survive JSON: carry it over as is.
            object? responseFormat = executionSettings.GetType().GetProperty(nameof(ResponseFormat))?.GetValue(executionSettings);
            string json = JsonSerializer.Serialize(source, source.GetType(), ConversionOptions);
            var converted = JsonSerializer.Deserialize<OnnxGenAIPromptExecutionSettings>(json, ConversionOptions) ?? new OnnxGenAIPromptExecutionSettings();
            converted.FunctionChoiceBehavior = behavior;
            if (responseFormat is not null and not JsonElement)
            {
                converted.ResponseFormat = responseFormat;
            }

            return converted;
        }
        catch (JsonException ex)
        {
            throw new ArgumentException($"Execution setting '{ex.Path}' has a value of the wrong type: {ex.Message}", nameof(executionSettings), ex);
        }
    }

    /// <summary>The runtime settings these stand for.</summary>
    /// <exception cref="NotSupportedException">A setting LlmKit does not implement is requested; the message names it.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A value is out of range; <see cref="ArgumentException.ParamName"/> is its JSON name.</exception>
    public GenerationOptions ToGenerationOptions()
    {
        if (ExtensionData is { Count: > 0 } extra)
        {
            throw new NotSupportedException(
                $"Execution setting(s) {string.Join(", ", extra.Keys.Select(k => $"'{k}'"))} are not supported by LlmKit. Supported: temperature, top_p, top_k, min_p, " +
                "max_tokens, repetition_penalty, frequency_penalty, presence_penalty, no_repeat_ngram_size, seed, stop_sequences, do_sample, " +
                "num_beams (1), num_return_sequences (1), min_tokens, length_penalty, diversity_penalty, early_stopping, past_present_share_buffer, adapter, prompt_lookup_draft_tokens, response_format.");
        }

        RequireAtLeast(NumBeams, 1, "num_beams");
        RequireAtLeast(NumReturnSequences, 1, "num_return_sequences");
        RequireAtLeast(MinTokens, 0, "min_tokens");
        if (NumReturnSequences > (NumBeams ?? 1))
        {
            throw new NotSupportedException($"Execution setting 'num_return_sequences' = {NumReturnSequences}: more sequences than beams (num_beams {NumBeams ?? 1}); several sequences come from beam search.");
        }

        if (DiversityPenalty is { } diversity && diversity != 0)
        {
            throw new NotSupportedException($"Execution setting 'diversity_penalty' = {diversity}: group beam search is not implemented; use 0.");
        }

        float? temperature = DoSample switch
        {
            false => 0f,
            true => Temperature ?? 1f,
            null => Temperature,
        };

        var options = new GenerationOptions
        {
            Temperature = temperature,
            TopP = TopP,
            TopK = TopK,
            MinP = MinP,
            MaxNewTokens = MaxTokens,
            RepetitionPenalty = RepetitionPenalty,
            FrequencyPenalty = FrequencyPenalty,
            PresencePenalty = PresencePenalty,
            NoRepeatNGramSize = NoRepeatNGramSize,
            MinNewTokens = MinTokens,
            NumBeams = NumBeams,
            NumReturnSequences = NumReturnSequences,
            LengthPenalty = LengthPenalty,
            EarlyStopping = EarlyStopping,
            Seed = Seed,
            StopSequences = StopSequences is { Count: > 0 } stops ? [.. stops] : null,
            Adapter = Adapter,
            PromptLookup = PromptLookupDraftTokens is { } draft and not 0 ? new PromptLookupOptions { DraftTokens = draft } : null,
            Constraint = ResponseFormatSetting.ToConstraint(ResponseFormat),
        };

        try
        {
            options.Validate();
        }
        catch (ArgumentException ex)
        {
            string name = JsonName(ex.ParamName);
            throw ex is ArgumentOutOfRangeException range
                ? new ArgumentOutOfRangeException(name, range.ActualValue, $"Execution setting '{name}': {range.Message.Split(" (Parameter", 2)[0]}")
                : new ArgumentException($"Execution setting '{name}': {ex.Message.Split(" (Parameter", 2)[0]}", name, ex);
        }

        return options;
    }

    /// <inheritdoc />
    /// <remarks>Also makes <see cref="StopSequences"/> read-only.</remarks>
    public override void Freeze()
    {
        if (IsFrozen)
        {
            return;
        }

        if (_stopSequences is not null)
        {
            _stopSequences = _stopSequences.ToList().AsReadOnly();
        }

        base.Freeze();
    }

    /// <inheritdoc />
    public override PromptExecutionSettings Clone() => new OnnxGenAIPromptExecutionSettings
    {
        ModelId = ModelId,
        ServiceId = ServiceId,
        FunctionChoiceBehavior = FunctionChoiceBehavior,
        ExtensionData = ExtensionData is null ? null : new Dictionary<string, object>(ExtensionData),
        Temperature = Temperature,
        TopP = TopP,
        TopK = TopK,
        MinP = MinP,
        MaxTokens = MaxTokens,
        RepetitionPenalty = RepetitionPenalty,
        FrequencyPenalty = FrequencyPenalty,
        PresencePenalty = PresencePenalty,
        NoRepeatNGramSize = NoRepeatNGramSize,
        Seed = Seed,
        StopSequences = StopSequences is null ? null : [.. StopSequences],
        DoSample = DoSample,
        NumBeams = NumBeams,
        NumReturnSequences = NumReturnSequences,
        MinTokens = MinTokens,
        LengthPenalty = LengthPenalty,
        DiversityPenalty = DiversityPenalty,
        EarlyStopping = EarlyStopping,
        PastPresentShareBuffer = PastPresentShareBuffer,
        Adapter = Adapter,
        PromptLookupDraftTokens = PromptLookupDraftTokens,
        ResponseFormat = ResponseFormat,
    };

    private static void RequireAtLeast(int? value, int minimum, string name)
    {
        if (value < minimum)
        {
            throw new ArgumentOutOfRangeException(name, value, $"Execution setting '{name}' must be >= {minimum}.");
        }
    }

    private static string JsonName(string? property) => property switch
    {
        nameof(GenerationOptions.MaxNewTokens) => "max_tokens",
        nameof(GenerationOptions.Temperature) => "temperature",
        nameof(GenerationOptions.TopK) => "top_k",
        nameof(GenerationOptions.TopP) => "top_p",
        nameof(GenerationOptions.MinP) => "min_p",
        nameof(GenerationOptions.RepetitionPenalty) => "repetition_penalty",
        nameof(GenerationOptions.FrequencyPenalty) => "frequency_penalty",
        nameof(GenerationOptions.PresencePenalty) => "presence_penalty",
        nameof(GenerationOptions.NoRepeatNGramSize) => "no_repeat_ngram_size",
        nameof(GenerationOptions.MinNewTokens) => "min_tokens",
        nameof(GenerationOptions.NumBeams) => "num_beams",
        nameof(GenerationOptions.NumReturnSequences) => "num_return_sequences",
        nameof(GenerationOptions.LengthPenalty) => "length_penalty",
        nameof(GenerationOptions.StopSequences) => "stop_sequences",
        nameof(GenerationOptions.Adapter) => "adapter",
        nameof(PromptLookupOptions.DraftTokens) => "prompt_lookup_draft_tokens",
        _ => property ?? "settings",
    };

    /// <summary>Writes <see cref="Type"/> values (an OpenAI settings' response format) as null; they are copied over separately.</summary>
    private sealed class TypeAsNullConverter : JsonConverter<Type>
    {
        public override bool CanConvert(Type typeToConvert) => typeof(Type).IsAssignableFrom(typeToConvert);

        public override Type? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            reader.Skip();
            return null;
        }

        public override void Write(Utf8JsonWriter writer, Type value, JsonSerializerOptions options) => writer.WriteNullValue();
    }

    private void Set<T>(ref T field, T value)
    {
        ThrowIfFrozen();
        field = value;
    }
}
