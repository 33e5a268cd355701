using System.Globalization;
using System.Text.Json;

namespace LlmKit.ModelBuilder;

/// <summary>The RoPE scaling methods of Hugging Face's <c>rope_scaling</c> (<c>rope_type</c>).</summary>
public enum RopeScalingType
{
    /// <summary>Position interpolation: every frequency divided by the factor (<c>"linear"</c>).</summary>
    Linear,

    /// <summary>NTK-aware scaling whose base grows with the current sequence length (<c>"dynamic"</c>).</summary>
    Dynamic,

    /// <summary>Llama 3.1's band-wise interpolation (<c>"llama3"</c>).</summary>
    Llama3,

    /// <summary>YaRN: a ramp between interpolated and original frequencies plus an attention factor (<c>"yarn"</c>).</summary>
    Yarn,

    /// <summary>Phi-3's LongRoPE (<c>"longrope"</c>, formerly <c>"su"</c>): per-frequency short and long factors.</summary>
    LongRope,
}

/// <summary>
/// The frequencies one RoPE table is built from: cos/sin(position · <see cref="Inverse"/>[i]) · <see cref="AttentionFactor"/>.
/// </summary>
/// <param name="Inverse">Inverse frequencies, one per rotated pair [head_size / 2].</param>
/// <param name="AttentionFactor">Scale applied to cos and sin (so attention logits scale by its square); 1 for most types.</param>
public sealed record RopeFrequencies(float[] Inverse, float AttentionFactor);

/// <summary>
/// A RoPE scaling method with its parameters, as in Hugging Face's <c>config.json</c> <c>rope_scaling</c> object, and the
/// inverse frequencies it gives (following transformers' <c>modeling_rope_utils</c>). Immutable and thread-safe.
/// </summary>
/// <param name="Type">The method.</param>
/// <param name="Factor">The context extension factor (&gt;= 1).</param>
public sealed record RopeScaling(RopeScalingType Type, double Factor)
{
    /// <summary>
    /// The length the model was trained at; the scaled context is about <see cref="Factor"/> times longer. Null until
    /// resolved from the checkpoint (the builder fills in the checkpoint's seq_len).
    /// </summary>
    public int? OriginalMaxPositionEmbeddings { get; init; }

    /// <summary>llama3: wavelengths longer than original / this are fully interpolated (HF default 1).</summary>
    public double LowFreqFactor { get; init; } = 1;

    /// <summary>llama3: wavelengths shorter than original / this are kept (HF default 4).</summary>
    public double HighFreqFactor { get; init; } = 4;

    /// <summary>yarn: rotations at which the ramp starts keeping original frequencies (HF default 32).</summary>
    public double BetaFast { get; init; } = 32;

    /// <summary>yarn: rotations below which frequencies are fully interpolated (HF default 1).</summary>
    public double BetaSlow { get; init; } = 1;

    /// <summary>yarn: round the ramp bounds outwards (HF default true).</summary>
    public bool Truncate { get; init; } = true;

    /// <summary>yarn and longrope: explicit attention factor; null computes HF's default from the factor.</summary>
    public double? AttentionFactor { get; init; }

    /// <summary>yarn: <c>mscale</c> (DeepSeek style); with <see cref="MScaleAllDim"/> it sets the attention factor.</summary>
    public double? MScale { get; init; }

    /// <summary>yarn: <c>mscale_all_dim</c>.</summary>
    public double? MScaleAllDim { get; init; }

    /// <summary>longrope: per-pair factors for sequences within the original length [head_size / 2].</summary>
    public IReadOnlyList<double>? ShortFactor { get; init; }

    /// <summary>longrope: per-pair factors for sequences beyond the original length [head_size / 2].</summary>
    public IReadOnlyList<double>? LongFactor { get; init; }

    /// <summary>The context the scaling is meant for: original length × factor (rounded down), or null while unresolved.</summary>
    public int? ScaledLength => OriginalMaxPositionEmbeddings is { } original ? (int)Math.Min(int.MaxValue, Math.Floor(original * Factor)) : null;

    /// <summary>
    /// Parses a command-line form <c>TYPE:FACTOR</c>: <c>linear:4</c>, <c>dynamic:2</c>, <c>llama3:8</c>, <c>yarn:4</c>
    /// (llama3 and yarn with Hugging Face's default parameters). longrope needs per-pair factors, so only
    /// <see cref="FromHuggingFace"/> creates it.
    /// </summary>
    /// <param name="spec">The text, e.g. <c>linear:4</c>.</param>
    /// <exception cref="FormatException">The text is not <c>TYPE:FACTOR</c> with a known type and a factor &gt;= 1.</exception>
    public static RopeScaling Parse(string spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        string[] parts = spec.Split(':');
        if (parts.Length != 2
            || !double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out double factor)
            || !(factor >= 1) || double.IsInfinity(factor))
        {
            throw new FormatException($"rope scaling '{spec}' must be TYPE:FACTOR with FACTOR >= 1, e.g. linear:4 (types: linear, dynamic, llama3, yarn).");
        }

        var type = parts[0].Trim().ToLowerInvariant() switch
        {
            "linear" => RopeScalingType.Linear,
            "dynamic" => RopeScalingType.Dynamic,
            "llama3" => RopeScalingType.Llama3,
            "yarn" => RopeScalingType.Yarn,
            "longrope" or "su" => throw new FormatException("rope scaling 'longrope' needs short and long factors per frequency: it comes from a config.json, not from TYPE:FACTOR."),
            _ => throw new FormatException($"rope scaling type '{parts[0]}' is not one of linear, dynamic, llama3, yarn."),
        };
        return new RopeScaling(type, factor);
    }

    /// <summary>
    /// Reads Hugging Face's <c>rope_scaling</c> object (<c>rope_type</c> or the older <c>type</c>). Returns null for a JSON
    /// null or <c>"default"</c>. Follows transformers: for yarn and longrope, a model whose config carries
    /// <c>original_max_position_embeddings</c> uses max_position_embeddings / original as its factor.
    /// </summary>
    /// <param name="ropeScaling">The <c>rope_scaling</c> value.</param>
    /// <param name="maxPositionEmbeddings">config.json's <c>max_position_embeddings</c>.</param>
    /// <param name="originalMaxPositionEmbeddings">config.json's top-level <c>original_max_position_embeddings</c> (Phi-3), if any.</param>
    /// <exception cref="InvalidDataException">A field is missing, of the wrong kind or out of range (the message names it).</exception>
    public static RopeScaling? FromHuggingFace(JsonElement ropeScaling, int maxPositionEmbeddings, int? originalMaxPositionEmbeddings = null)
    {
        if (ropeScaling.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined)
        {
            return null;
        }

        if (ropeScaling.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidDataException("config.json: rope_scaling must be an object or null.");
        }

        if (maxPositionEmbeddings <= 0)
        {
            throw new InvalidDataException($"config.json: max_position_embeddings must be positive (was {maxPositionEmbeddings}).");
        }

        string? name = String(ropeScaling, "rope_type") ?? String(ropeScaling, "type");
        if (name is null or "default")
        {
            return null;
        }

        int? nestedOriginal = Int(ropeScaling, "original_max_position_embeddings");
        double? factor = Number(ropeScaling, "factor");
        RopeScaling result;
        switch (name)
        {
            case "linear":
            case "dynamic":
                result = new RopeScaling(name == "linear" ? RopeScalingType.Linear : RopeScalingType.Dynamic, factor ?? throw Missing("factor", name))
                {
                    OriginalMaxPositionEmbeddings = nestedOriginal ?? originalMaxPositionEmbeddings ?? maxPositionEmbeddings,
                };
                break;
            case "llama3":
                result = new RopeScaling(RopeScalingType.Llama3, factor ?? throw Missing("factor", name))
                {
                    OriginalMaxPositionEmbeddings = nestedOriginal ?? throw Missing("original_max_position_embeddings", name),
                    LowFreqFactor = Number(ropeScaling, "low_freq_factor") ?? throw Missing("low_freq_factor", name),
                    HighFreqFactor = Number(ropeScaling, "high_freq_factor") ?? throw Missing("high_freq_factor", name),
                };
                break;
            case "yarn":
                // transformers: with original_max_position_embeddings in rope_scaling, factor = max / original.
                result = new RopeScaling(RopeScalingType.Yarn, nestedOriginal is { } o ? maxPositionEmbeddings / (double)o : factor ?? throw Missing("factor", name))
                {
                    OriginalMaxPositionEmbeddings = nestedOriginal ?? maxPositionEmbeddings,
                    BetaFast = Number(ropeScaling, "beta_fast") ?? 32,
                    BetaSlow = Number(ropeScaling, "beta_slow") ?? 1,
                    Truncate = ropeScaling.TryGetProperty("truncate", out var t) && t.ValueKind == JsonValueKind.False ? false : true,
                    AttentionFactor = Number(ropeScaling, "attention_factor"),
                    MScale = Number(ropeScaling, "mscale"),
                    MScaleAllDim = Number(ropeScaling, "mscale_all_dim"),
                };
                break;
            case "longrope":
            case "su":
                int original = originalMaxPositionEmbeddings ?? nestedOriginal ?? maxPositionEmbeddings;
                result = new RopeScaling(RopeScalingType.LongRope, originalMaxPositionEmbeddings is { } top ? maxPositionEmbeddings / (double)top : factor ?? 1)
                {
                    OriginalMaxPositionEmbeddings = original,
                    AttentionFactor = Number(ropeScaling, "attention_factor"),
                    ShortFactor = Numbers(ropeScaling, "short_factor") ?? throw Missing("short_factor", name),
                    LongFactor = Numbers(ropeScaling, "long_factor") ?? throw Missing("long_factor", name),
                };
                break;
            default:
                throw new InvalidDataException($"config.json: rope_scaling type '{name}' is not supported (linear, dynamic, llama3, yarn, longrope/su).");
        }

        if (!(result.Factor > 0) || double.IsInfinity(result.Factor))
        {
            throw new InvalidDataException($"config.json: rope_scaling.factor must be a positive finite number (was {result.Factor}).");
        }

        return result;
    }

    /// <summary>Throws naming the first parameter that cannot give valid frequencies for <paramref name="headSize"/>.</summary>
    /// <param name="headSize">Rotated width of a head (even).</param>
    /// <exception cref="ArgumentOutOfRangeException">A parameter is out of range.</exception>
    public void Validate(int headSize)
    {
        if (!(Factor > 0) || double.IsInfinity(Factor))
        {
            throw new ArgumentOutOfRangeException(nameof(Factor), Factor, "RopeScaling.Factor must be a positive finite number.");
        }

        if (OriginalMaxPositionEmbeddings is <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(OriginalMaxPositionEmbeddings), OriginalMaxPositionEmbeddings, "RopeScaling.OriginalMaxPositionEmbeddings must be positive.");
        }

        if (Type == RopeScalingType.Llama3 && !(HighFreqFactor > LowFreqFactor && LowFreqFactor > 0))
        {
            throw new ArgumentOutOfRangeException(nameof(HighFreqFactor), HighFreqFactor, $"llama3 rope scaling needs HighFreqFactor > LowFreqFactor > 0 (low {LowFreqFactor}).");
        }

        if (Type == RopeScalingType.LongRope)
        {
            int half = headSize / 2;
            if (ShortFactor is null || LongFactor is null || ShortFactor.Count != half || LongFactor.Count != half)
            {
                throw new ArgumentOutOfRangeException(nameof(LongFactor), LongFactor?.Count, $"longrope needs ShortFactor and LongFactor with head_size / 2 = {half} entries (short {ShortFactor?.Count}, long {LongFactor?.Count}).");
            }
        }
    }

    /// <summary>
    /// The inverse frequencies and attention factor for a model with this scaling (Hugging Face's formulas, in float32
    /// from the same unscaled frequencies as an unscaled model).
    /// </summary>
    /// <param name="headSize">Rotated width of a head.</param>
    /// <param name="theta">RoPE base.</param>
    /// <param name="sequenceLength">
    /// The length the frequencies are for: dynamic scales its base when it exceeds the original length, longrope uses
    /// its long factors when it exceeds the original length. Ignored by the other types.
    /// </param>
    /// <exception cref="InvalidOperationException"><see cref="OriginalMaxPositionEmbeddings"/> is needed and unresolved.</exception>
    public RopeFrequencies Frequencies(int headSize, float theta, int sequenceLength)
    {
        Validate(headSize);
        int half = headSize / 2;
        float factor = (float)Factor;
        switch (Type)
        {
            case RopeScalingType.Linear:
            {
                float[] inv = Unscaled(headSize, theta);
                for (int i = 0; i < half; i++)
                {
                    inv[i] /= factor;
                }

                return new RopeFrequencies(inv, 1f);
            }

            case RopeScalingType.Dynamic:
            {
                // NTK: base' = base · ((factor · L / original) − (factor − 1))^(d / (d − 2)) once L exceeds the original length.
                int original = Original();
                double length = Math.Max(sequenceLength, original);
                double scaledBase = theta * Math.Pow((Factor * length / original) - (Factor - 1), headSize / (double)(headSize - 2));
                return new RopeFrequencies(Unscaled(headSize, (float)scaledBase), 1f);
            }

            case RopeScalingType.Llama3:
                return new RopeFrequencies(Llama3(Unscaled(headSize, theta)), 1f);

            case RopeScalingType.Yarn:
                return Yarn(headSize, theta);

            default:
                return LongRopeFrequencies(headSize, theta, sequenceLength);
        }
    }

    /// <summary>Whether the frequencies depend on the sequence length (dynamic, and longrope when its two factor sets differ).</summary>
    public bool DependsOnSequenceLength => Type == RopeScalingType.Dynamic || SwitchesFactorSets;

    /// <summary>
    /// longrope whose short and long factors differ: the short set applies while the sequence is within
    /// <see cref="OriginalMaxPositionEmbeddings"/>, the long one beyond (the graph emits both tables and a switch).
    /// </summary>
    public bool SwitchesFactorSets => Type == RopeScalingType.LongRope && !(ShortFactor ?? []).SequenceEqual(LongFactor ?? []);

    /// <summary>1 / theta^(2i / head_size), computed exactly as the unscaled tables and the reference always have.</summary>
    internal static float[] Unscaled(int headSize, float theta)
    {
        var inv = new float[headSize / 2];
        for (int i = 0; i < inv.Length; i++)
        {
            inv[i] = 1.0f / MathF.Pow(theta, (2 * i) / (float)headSize);
        }

        return inv;
    }

    private float[] Llama3(float[] inv)
    {
        float original = Original();
        float factor = (float)Factor, low = (float)LowFreqFactor, high = (float)HighFreqFactor;
        float lowFreqWavelength = original / low, highFreqWavelength = original / high;
        for (int i = 0; i < inv.Length; i++)
        {
            float wavelength = 2 * MathF.PI / inv[i];
            if (wavelength > lowFreqWavelength)
            {
                inv[i] /= factor; // long wavelengths: interpolate fully
            }
            else if (wavelength >= highFreqWavelength)
            {
                // Medium band: blend interpolated and original by where the wavelength sits between the bounds.
                float smooth = ((original / wavelength) - low) / (high - low);
                inv[i] = ((1 - smooth) * inv[i] / factor) + (smooth * inv[i]);
            }
        }

        return inv;
    }

    private RopeFrequencies Yarn(int headSize, float theta)
    {
        int half = headSize / 2;
        double original = Original();
        double attention = AttentionFactor
            ?? (MScale is { } m && MScaleAllDim is { } all ? YarnMScale(Factor, m) / YarnMScale(Factor, all) : YarnMScale(Factor, 1));

        // Rotation counts map to dimensions: d(r) = head_size · ln(original / (2π r)) / (2 ln θ).
        double CorrectionDim(double rotations) => headSize * Math.Log(original / (rotations * 2 * Math.PI)) / (2 * Math.Log(theta));
        double low = CorrectionDim(BetaFast), high = CorrectionDim(BetaSlow);
        if (Truncate)
        {
            low = Math.Floor(low);
            high = Math.Ceiling(high);
        }

        low = Math.Max(low, 0);
        high = Math.Min(high, headSize - 1);
        if (low == high)
        {
            high += 0.001; // as transformers does, so the ramp never divides by zero
        }

        float[] extrapolation = Unscaled(headSize, theta);
        var inv = new float[half];
        for (int i = 0; i < half; i++)
        {
            float ramp = Math.Clamp((float)((i - low) / (high - low)), 0f, 1f);
            float keep = 1 - ramp; // share of the original (extrapolated) frequency
            float interpolation = extrapolation[i] / (float)Factor;
            inv[i] = (interpolation * (1 - keep)) + (extrapolation[i] * keep);
        }

        return new RopeFrequencies(inv, (float)attention);
    }

    private RopeFrequencies LongRopeFrequencies(int headSize, float theta, int sequenceLength)
    {
        int original = Original();
        IReadOnlyList<double> factors = sequenceLength > original ? LongFactor! : ShortFactor!;
        double attention = AttentionFactor ?? (Factor <= 1 ? 1 : Math.Sqrt(1 + (Math.Log(Factor) / Math.Log(original))));
        float[] inv = Unscaled(headSize, theta);
        for (int i = 0; i < inv.Length; i++)
        {
            inv[i] /= (float)factors[i];
        }

        return new RopeFrequencies(inv, (float)attention);
    }

    private static double YarnMScale(double scale, double mscale) => scale <= 1 ? 1 : (0.1 * mscale * Math.Log(scale)) + 1;

    private int Original() => OriginalMaxPositionEmbeddings
        ?? throw new InvalidOperationException($"{Type} rope scaling needs OriginalMaxPositionEmbeddings (the training length).");

    private static InvalidDataException Missing(string field, string type) => new($"config.json: rope_scaling.{field} is required for rope type '{type}'.");

    private static string? String(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static double? Number(JsonElement e, string name)
    {
        if (!e.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (v.ValueKind != JsonValueKind.Number || !double.IsFinite(v.GetDouble()))
        {
            throw new InvalidDataException($"config.json: rope_scaling.{name} must be a finite number.");
        }

        return v.GetDouble();
    }

    private static int? Int(JsonElement e, string name)
    {
        if (Number(e, name) is not { } value)
        {
            return null;
        }

        if (value < 1 || value > int.MaxValue || value != Math.Floor(value))
        {
            throw new InvalidDataException($"config.json: rope_scaling.{name} must be a positive integer (was {value}).");
        }

        return (int)value;
    }

    private static double[]? Numbers(JsonElement e, string name)
    {
        if (!e.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (v.ValueKind != JsonValueKind.Array || v.GetArrayLength() > 65536)
        {
            throw new InvalidDataException($"config.json: rope_scaling.{name} must be an array of at most 65536 numbers.");
        }

        var values = new double[v.GetArrayLength()];
        int i = 0;
        foreach (var item in v.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !(item.GetDouble() > 0) || !double.IsFinite(item.GetDouble()))
            {
                throw new InvalidDataException($"config.json: rope_scaling.{name}[{i}] must be a positive finite number.");
            }

            values[i++] = item.GetDouble();
        }

        return values;
    }
}
