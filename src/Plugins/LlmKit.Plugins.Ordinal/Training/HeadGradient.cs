using System.Numerics.Tensors;
using LlmKit.Plugins.Ordinal.Heads;

namespace LlmKit.Plugins.Ordinal.Training;

/// <summary>
/// Gradient buffers shaped like a head's parameters, plus per-example scratch, and the forward/backward pass
/// of one example. Not thread-safe: one instance per training loop.
/// </summary>
internal sealed class HeadGradient
{
    private readonly OrdinalHead _head;
    private readonly float[] _hidden;
    private readonly float[] _hiddenGradient;
    private readonly float[] _scores;
    private readonly float[] _scoreGradient;

    public HeadGradient(OrdinalHead head)
    {
        _head = head;
        ScoreWeights = new float[head.ScoreWeights.Length];
        Thresholds = new float[head.ThresholdParameters.Length];
        HiddenWeights = new float[head.Hidden?.WeightArray.Length ?? 0];
        HiddenBiases = new float[head.Hidden?.BiasArray.Length ?? 0];
        _hidden = new float[head.Hidden?.Units ?? 0];
        _hiddenGradient = new float[_hidden.Length];
        _scores = new float[head.ScoreCount];
        _scoreGradient = new float[head.ScoreCount];
    }

    public float[] ScoreWeights { get; }

    public float[] Thresholds { get; }

    public float[] HiddenWeights { get; }

    public float[] HiddenBiases { get; }

    public void Clear()
    {
        Array.Clear(ScoreWeights);
        Array.Clear(Thresholds);
        Array.Clear(HiddenWeights);
        Array.Clear(HiddenBiases);
    }

    /// <summary>Loss of one example without touching the gradients (validation).</summary>
    public double Loss(ReadOnlySpan<float> x, int label, float weight, ReadOnlySpan<float> thresholdWeights)
    {
        Forward(x);
        Array.Clear(_scoreGradient);
        // The head accumulates into throw-away buffers; K−1 floats, so cheaper than a second loss-only path per head.
        Span<float> discard = stackalloc float[Thresholds.Length];
        return _head.AccumulateGradient(_scores, label, weight, thresholdWeights, _scoreGradient, discard);
    }

    /// <summary>Adds one example's gradient to the buffers and returns its weighted loss.</summary>
    public double Accumulate(ReadOnlySpan<float> x, int label, float weight, ReadOnlySpan<float> thresholdWeights)
    {
        var z = Forward(x);
        Array.Clear(_scoreGradient);
        double loss = _head.AccumulateGradient(_scores, label, weight, thresholdWeights, _scoreGradient, Thresholds);

        int width = _head.FeatureDimension;
        var weights = _head.ScoreWeights.AsSpan();
        var gradWeights = ScoreWeights.AsSpan();
        for (int m = 0; m < _scoreGradient.Length; m++)
        {
            float g = _scoreGradient[m];
            if (g != 0f)
            {
                var row = gradWeights.Slice(m * width, width);
                TensorPrimitives.MultiplyAdd(z, g, row, row);
            }
        }

        var hiddenLayer = _head.Hidden;
        if (hiddenLayer is null)
        {
            return loss;
        }

        // dL/dh = Σ_m g_m · w_m, then through the ReLU (h > 0 ⇔ pre-activation > 0).
        Array.Clear(_hiddenGradient);
        for (int m = 0; m < _scoreGradient.Length; m++)
        {
            float g = _scoreGradient[m];
            if (g != 0f)
            {
                TensorPrimitives.MultiplyAdd(weights.Slice(m * width, width), g, _hiddenGradient, _hiddenGradient);
            }
        }

        int inputs = hiddenLayer.InputDimension;
        var gradHidden = HiddenWeights.AsSpan();
        for (int u = 0; u < _hidden.Length; u++)
        {
            if (_hidden[u] <= 0f || _hiddenGradient[u] == 0f)
            {
                continue;
            }

            float g = _hiddenGradient[u];
            var row = gradHidden.Slice(u * inputs, inputs);
            TensorPrimitives.MultiplyAdd(x, g, row, row);
            HiddenBiases[u] += g;
        }

        return loss;
    }

    private ReadOnlySpan<float> Forward(ReadOnlySpan<float> x)
    {
        ReadOnlySpan<float> z = x;
        if (_head.Hidden is not null)
        {
            _head.Hidden.Forward(x, _hidden);
            z = _hidden;
        }

        _head.ComputeScores(z, _scores);
        return z;
    }
}
