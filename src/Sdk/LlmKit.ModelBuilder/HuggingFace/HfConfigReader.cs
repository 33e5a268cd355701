using System.Text.Json;

namespace LlmKit.ModelBuilder.HuggingFace;

/// <summary>
/// Reads a Hugging Face <c>config.json</c> (plus <c>generation_config.json</c> for EOS ids) into an
/// <see cref="HfDecoderSpec"/>. Only the architectures in <see cref="SupportedArchitectures"/> are accepted, and
/// every field that would change the math in a way the builder does not reproduce (rope_scaling, a partial rotary
/// factor, MLP biases, another activation, Qwen2's per-layer sliding window) is refused with
/// <see cref="NotSupportedException"/> naming the field. Stateless and thread-safe.
/// </summary>
internal static class HfConfigReader
{
    public const string ConfigFileName = "config.json";
    public const string GenerationConfigFileName = "generation_config.json";
    private const long MaxJsonBytes = 16L << 20;

    /// <summary>config.json architecture -> onnxruntime-genai model.type.</summary>
    public static readonly IReadOnlyDictionary<string, string> SupportedArchitectures = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["LlamaForCausalLM"] = "llama",
        ["MistralForCausalLM"] = "mistral",
        ["Qwen2ForCausalLM"] = "qwen2",
        ["Phi3ForCausalLM"] = "phi3",
        ["GemmaForCausalLM"] = "gemma",
        ["Gemma2ForCausalLM"] = "gemma2",
    };

    /// <summary>Reads the folder's config.json and generation_config.json (optional).</summary>
    /// <exception cref="FileNotFoundException">config.json is missing.</exception>
    /// <exception cref="InvalidDataException">A field is missing, of the wrong type or out of range (the message names it).</exception>
    /// <exception cref="NotSupportedException">The architecture or a math-changing field is not supported.</exception>
    public static HfDecoderSpec Read(string folder)
    {
        string path = Path.Combine(Path.GetFullPath(folder), ConfigFileName);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"'{folder}' has no {ConfigFileName}; a Hugging Face checkpoint folder needs one.", path);
        }

        using var doc = ParseJson(path);
        var spec = Parse(doc.RootElement, path);
        string generation = Path.Combine(Path.GetFullPath(folder), GenerationConfigFileName);
        if (File.Exists(generation))
        {
            using var gen = ParseJson(generation);
            var extra = EosIds(gen.RootElement, generation);
            spec = spec with { EosTokenIds = [.. spec.EosTokenIds.Union(extra)] };
        }

        return spec;
    }

    // rope_scaling (linear, llama3, yarn, longrope/su) becomes the graph's cos/sin tables; dynamic NTK makes them inputs
    // the LlmKit runtime fills per run.
    private static RopeScaling? ReadRopeScaling(JsonElement c, string path)
    {
        if (!c.TryGetProperty("rope_scaling", out var value))
        {
            return null;
        }

        int? original = c.TryGetProperty("original_max_position_embeddings", out var o) && o.ValueKind == JsonValueKind.Number ? o.GetInt32() : null;
        try
        {
            return RopeScaling.FromHuggingFace(value, Int(c, path, "max_position_embeddings"), original);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
    }

    /// <summary>Parses config.json content (exposed for tests of single fields).</summary>
    public static HfDecoderSpec Parse(JsonElement c, string path)
    {
        string architecture = Architecture(c, path);
        string type = SupportedArchitectures[architecture];
        bool gemma = type is "gemma" or "gemma2";

        Refuse(c, path, "partial_rotary_factor", v => v.ValueKind == JsonValueKind.Number && v.GetDouble() != 1.0, "only full rotary embeddings (partial_rotary_factor 1) are supported");
        Refuse(c, path, "mlp_bias", v => v.ValueKind == JsonValueKind.True, "MLP biases are not supported");
        if (type != "qwen2")
        {
            Refuse(c, path, "attention_bias", v => v.ValueKind == JsonValueKind.True, "attention biases are supported only for Qwen2ForCausalLM");
        }
        else
        {
            Refuse(c, path, "use_sliding_window", v => v.ValueKind == JsonValueKind.True, "Qwen2's per-layer sliding window (max_window_layers) is not supported");
        }

        int hidden = Int(c, path, "hidden_size");
        int heads = Int(c, path, "num_attention_heads");
        int kvHeads = OptionalInt(c, path, "num_key_value_heads") ?? heads;
        int headDim = OptionalInt(c, path, "head_dim") ?? (hidden % heads == 0 ? hidden / heads : throw Invalid(path, "num_attention_heads", $"must divide hidden_size {hidden} when head_dim is absent"));
        if (heads % kvHeads != 0)
        {
            throw Invalid(path, "num_key_value_heads", $"must divide num_attention_heads {heads}");
        }

        if (headDim % 2 != 0)
        {
            throw Invalid(path, "head_dim", "must be even for rotary embeddings");
        }

        var activation = ReadActivation(c, path, gemma);
        float? queryScalar = type == "gemma2" ? OptionalFloat(c, path, "query_pre_attn_scalar") ?? 256f : null;
        int? window = type switch
        {
            "mistral" or "phi3" or "gemma2" => OptionalInt(c, path, "sliding_window"),
            _ => null,
        };
        if (type == "gemma2")
        {
            window ??= 4096;
        }

        var spec = new HfDecoderSpec
        {
            Architecture = architecture,
            ModelType = type,
            Hidden = hidden,
            Intermediate = Int(c, path, "intermediate_size"),
            Layers = Int(c, path, "num_hidden_layers"),
            Heads = heads,
            KvHeads = kvHeads,
            HeadDim = headDim,
            VocabSize = Int(c, path, "vocab_size"),
            MaxPositions = Int(c, path, "max_position_embeddings"),
            NormEps = OptionalFloat(c, path, "rms_norm_eps") ?? 1e-6f,
            RopeTheta = OptionalFloat(c, path, "rope_theta") ?? 10000f,
            RopeScaling = ReadRopeScaling(c, path),
            TiedEmbeddings = OptionalBool(c, path, "tie_word_embeddings") ?? gemma,
            QkvBias = type == "qwen2",
            FusedProjections = type == "phi3",
            Activation = activation,
            EmbeddingScale = gemma ? MathF.Sqrt(hidden) : 1f,
            NormWeightOffset = gemma ? 1f : 0f,
            AttentionScale = 1f / MathF.Sqrt(queryScalar ?? headDim),
            AttentionSoftcap = type == "gemma2" ? OptionalFloat(c, path, "attn_logit_softcapping") ?? 0f : 0f,
            FinalLogitSoftcap = type == "gemma2" ? OptionalFloat(c, path, "final_logit_softcapping") ?? 0f : 0f,
            SandwichNorms = type == "gemma2",
            SlidingWindow = window,
            AlternatingWindow = type == "gemma2",
            BosTokenId = OptionalInt(c, path, "bos_token_id", allowZero: true),
            EosTokenIds = EosIds(c, path),
            PadTokenId = OptionalInt(c, path, "pad_token_id", allowZero: true),
        };

        if (spec.SlidingWindow is { } w && w > spec.MaxPositions)
        {
            // A window as long as the context is no window: keep full attention (and a growing cache).
            spec = spec with { SlidingWindow = null };
        }

        return spec;
    }

    private static string Architecture(JsonElement c, string path)
    {
        string supported = string.Join(", ", SupportedArchitectures.Keys);
        if (!c.TryGetProperty("architectures", out var list) || list.ValueKind != JsonValueKind.Array || list.GetArrayLength() != 1
            || list[0].ValueKind != JsonValueKind.String)
        {
            throw new InvalidDataException($"'{path}': \"architectures\" must list exactly one architecture (supported: {supported}).");
        }

        string name = list[0].GetString()!;
        return SupportedArchitectures.ContainsKey(name)
            ? name
            : throw new NotSupportedException($"'{path}': architecture {name} is not supported; supported architectures are {supported}.");
    }

    private static GatedActivation ReadActivation(JsonElement c, string path, bool gemma)
    {
        // Gemma's MLP uses hidden_activation, and HF falls back to gelu_pytorch_tanh when it is absent.
        string field = gemma ? "hidden_activation" : "hidden_act";
        string? name = c.TryGetProperty(field, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
        name ??= gemma ? "gelu_pytorch_tanh" : "silu";
        return name switch
        {
            "silu" when !gemma => GatedActivation.Silu,
            "gelu_pytorch_tanh" when gemma => GatedActivation.GeluTanh,
            _ => throw new NotSupportedException($"'{path}': {field} \"{name}\" is not supported for this architecture (expected {(gemma ? "gelu_pytorch_tanh" : "silu")})."),
        };
    }

    private static int[] EosIds(JsonElement c, string path)
    {
        if (!c.TryGetProperty("eos_token_id", out var v) || v.ValueKind == JsonValueKind.Null)
        {
            return [];
        }

        if (v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int one) && one >= 0)
        {
            return [one];
        }

        if (v.ValueKind == JsonValueKind.Array)
        {
            return [.. v.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out int id) && id >= 0
                ? id
                : throw Invalid(path, "eos_token_id", "must hold non-negative integers"))];
        }

        throw Invalid(path, "eos_token_id", "must be an integer or a list of integers");
    }

    private static void Refuse(JsonElement c, string path, string field, Func<JsonElement, bool> isUnsupported, string why)
    {
        if (c.TryGetProperty(field, out var v) && isUnsupported(v))
        {
            throw new NotSupportedException($"'{path}': {field} = {v.GetRawText()} is not supported: {why}.");
        }
    }

    private static int Int(JsonElement c, string path, string field) =>
        OptionalInt(c, path, field) ?? throw Invalid(path, field, "is required");

    private static int? OptionalInt(JsonElement c, string path, string field, bool allowZero = false)
    {
        if (!c.TryGetProperty(field, out var v) || v.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out int value) || value < 0 || (value == 0 && !allowZero))
        {
            throw Invalid(path, field, $"must be a {(allowZero ? "non-negative" : "positive")} integer (was {v.GetRawText()})");
        }

        return value;
    }

    private static float? OptionalFloat(JsonElement c, string path, string field)
    {
        if (!c.TryGetProperty(field, out var v) || v.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (v.ValueKind != JsonValueKind.Number || !(v.GetDouble() > 0) || double.IsInfinity(v.GetDouble()))
        {
            throw Invalid(path, field, $"must be a positive number (was {v.GetRawText()})");
        }

        return (float)v.GetDouble();
    }

    private static bool? OptionalBool(JsonElement c, string path, string field) =>
        !c.TryGetProperty(field, out var v) || v.ValueKind == JsonValueKind.Null ? null
        : v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean()
        : throw Invalid(path, field, "must be true or false");

    private static InvalidDataException Invalid(string path, string field, string what) => new($"'{path}': {field} {what}.");

    private static JsonDocument ParseJson(string path)
    {
        long length = new FileInfo(path).Length;
        if (length > MaxJsonBytes)
        {
            throw new InvalidDataException($"'{path}' is {length:N0} bytes, more than the {MaxJsonBytes:N0}-byte limit.");
        }

        try
        {
            return JsonDocument.Parse(File.ReadAllBytes(path), new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"'{path}' is not valid JSON ({e.Message}).", e);
        }
    }
}
