using System.Globalization;
using LlmKit.Models;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace LlmKit.Generation;

/// <summary>
/// The parameters of dynamic NTK RoPE scaling (Hugging Face <c>rope_type: dynamic</c>), read from the decoder's ONNX
/// metadata, for graphs whose <c>cos_cache</c>/<c>sin_cache</c> are inputs the runtime fills per run.
/// </summary>
/// <remarks>
/// A run whose last position is L − 1 uses base' = θ · ((factor · L / original) − (factor − 1))^(d / (d − 2)) when
/// L &gt; original and θ otherwise, for every position it computes; keys already cached keep the rotation of their own
/// run. Immutable and thread-safe.
/// </remarks>
internal sealed record DynamicNtkRope(float Theta, double Factor, int OriginalLength, int RotaryDim)
{
    /// <summary>Metadata key holding the rope type; the builder writes <c>dynamic</c>.</summary>
    public const string TypeKey = "llmkit.rope_scaling.type";

    /// <summary>Metadata key of the scaling factor.</summary>
    public const string FactorKey = "llmkit.rope_scaling.factor";

    /// <summary>Metadata key of the training length the scaling starts from.</summary>
    public const string OriginalKey = "llmkit.rope_scaling.original_max_position_embeddings";

    /// <summary>Metadata key of the RoPE base θ.</summary>
    public const string ThetaKey = "llmkit.rope_theta";

    /// <summary>Reads the parameters from the graph's metadata, naming the missing or bad key.</summary>
    public static DynamicNtkRope Read(InferenceSession session, string modelPath, int rotaryDim)
    {
        var map = session.ModelMetadata.CustomMetadataMap;
        if (!map.TryGetValue(TypeKey, out string? type) || type != "dynamic")
        {
            throw Bad($"its cos_cache/sin_cache are inputs, which LlmKit fills only for dynamic rope scaling, but metadata '{TypeKey}' is '{type ?? "(missing)"}'");
        }

        float theta = (float)Number(ThetaKey);
        double factor = Number(FactorKey);
        double original = Number(OriginalKey);
        if (!(theta > 1) || !(factor >= 1) || original < 1 || original > int.MaxValue || original != Math.Floor(original) || rotaryDim < 4 || rotaryDim % 2 != 0)
        {
            throw Bad($"dynamic rope scaling needs {ThetaKey} > 1, {FactorKey} >= 1, a positive integer {OriginalKey} and an even rotary width >= 4 (were {theta}, {factor}, {original}, {rotaryDim})");
        }

        return new DynamicNtkRope(theta, factor, (int)original, rotaryDim);

        double Number(string key) =>
            map.TryGetValue(key, out string? text) && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) && double.IsFinite(value)
                ? value
                : throw Bad($"metadata '{key}' is missing or not a number");

        ModelFolderException Bad(string problem) => new($"The graph '{modelPath}' cannot run: {problem}.") { FilePath = modelPath };
    }

    /// <summary>Writes the inverse frequencies for a run ending at total length <paramref name="length"/> into <paramref name="inverse"/>.</summary>
    public void InverseFrequencies(int length, Span<float> inverse)
    {
        // The same float/double steps as the builder's RopeScaling and the reference, so the tables agree bit for bit.
        double l = Math.Max(length, OriginalLength);
        double scaledBase = Theta * Math.Pow((Factor * l / OriginalLength) - (Factor - 1), RotaryDim / (double)(RotaryDim - 2));
        float b = (float)scaledBase;
        for (int i = 0; i < inverse.Length; i++)
        {
            inverse[i] = 1.0f / MathF.Pow(b, (2 * i) / (float)RotaryDim);
        }
    }
}

/// <summary>
/// One sequence's cos/sin caches for a dynamic-NTK graph: pinned [rows, rotary_dim / 2] buffers bound once, of which
/// each run rewrites only the rows of the positions it computes (a decode step: one row). Not thread-safe.
/// </summary>
internal sealed class DynamicRopeTables : IDisposable
{
    private readonly DynamicNtkRope _rope;
    private readonly int _half;
    private readonly float[] _cos, _sin, _inverse;
    private int _frequenciesFor = -1; // the run length _inverse holds

    public DynamicRopeTables(DynamicNtkRope rope, int rows)
    {
        _rope = rope;
        _half = rope.RotaryDim / 2;
        Rows = rows;
        long count = (long)rows * _half;
        if (count > Array.MaxLength)
        {
            throw new ArgumentOutOfRangeException(nameof(rows), rows, "The cos/sin cache is too large for one array.");
        }

        _cos = GC.AllocateArray<float>((int)count, pinned: true);
        _sin = GC.AllocateArray<float>((int)count, pinned: true);
        _inverse = new float[_half];
        long[] shape = [rows, _half];
        Cos = DecoderState.Create(_cos, TensorElementType.Float, shape, count * sizeof(float));
        Sin = DecoderState.Create(_sin, TensorElementType.Float, shape, count * sizeof(float));
    }

    /// <summary>Rows of the tables (the graph's declared cache length).</summary>
    public int Rows { get; }

    /// <summary>The cos_cache tensor, over the pinned buffer.</summary>
    public OrtValue Cos { get; }

    /// <summary>The sin_cache tensor, over the pinned buffer.</summary>
    public OrtValue Sin { get; }

    /// <summary>Writes rows [<paramref name="first"/>, <paramref name="length"/>) with the frequencies of a run of total length <paramref name="length"/>.</summary>
    public void Prepare(int first, int length)
    {
        if (length > Rows)
        {
            throw new ArgumentOutOfRangeException(nameof(length), length, $"Position {length - 1} is past the graph's cos/sin cache of {Rows} rows.");
        }

        if (length != _frequenciesFor)
        {
            _rope.InverseFrequencies(length, _inverse);
            _frequenciesFor = length;
        }

        for (int pos = first; pos < length; pos++)
        {
            int row = pos * _half;
            for (int i = 0; i < _half; i++)
            {
                float angle = pos * _inverse[i];
                _cos[row + i] = MathF.Cos(angle);
                _sin[row + i] = MathF.Sin(angle);
            }
        }
    }

    public void Dispose()
    {
        Cos.Dispose();
        Sin.Dispose();
    }
}
