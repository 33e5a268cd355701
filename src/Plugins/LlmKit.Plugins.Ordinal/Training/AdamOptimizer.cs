using System.Numerics.Tensors;

namespace LlmKit.Plugins.Ordinal.Training;

/// <summary>Adam (Kingma and Ba, 2015) over one parameter array, vectorised with TensorPrimitives. Not thread-safe.</summary>
internal sealed class AdamOptimizer
{
    private readonly float[] _m;
    private readonly float[] _v;
    private readonly float[] _scratch;
    private readonly float _beta1;
    private readonly float _beta2;
    private readonly float _epsilon;

    public AdamOptimizer(int length, float beta1, float beta2, float epsilon = 1e-8f)
    {
        _m = new float[length];
        _v = new float[length];
        _scratch = new float[length];
        _beta1 = beta1;
        _beta2 = beta2;
        _epsilon = epsilon;
    }

    /// <summary>One update with bias correction for step <paramref name="step"/> (1-based).</summary>
    public void Step(Span<float> parameters, ReadOnlySpan<float> gradient, float learningRate, int step)
    {
        if (parameters.IsEmpty)
        {
            return;
        }

        // m ← β1·m + (1−β1)·g ;  v ← β2·v + (1−β2)·g²
        TensorPrimitives.Multiply(_m, _beta1, _m);
        TensorPrimitives.MultiplyAdd(gradient, 1f - _beta1, _m, _m);
        TensorPrimitives.Multiply(gradient, gradient, _scratch);
        TensorPrimitives.Multiply(_v, _beta2, _v);
        TensorPrimitives.MultiplyAdd(_scratch, 1f - _beta2, _v, _v);

        // p ← p − α·m̂ / (√v̂ + ε), with the bias corrections folded into α and ε.
        double correction1 = 1.0 - Math.Pow(_beta1, step);
        double correction2 = 1.0 - Math.Pow(_beta2, step);
        float alpha = (float)(learningRate * Math.Sqrt(correction2) / correction1);
        float epsilon = (float)(_epsilon * Math.Sqrt(correction2));
        TensorPrimitives.Sqrt(_v, _scratch);
        TensorPrimitives.Add(_scratch, epsilon, _scratch);
        TensorPrimitives.Divide(_m, _scratch, _scratch);
        TensorPrimitives.MultiplyAdd(_scratch, -alpha, parameters, parameters);
    }
}
