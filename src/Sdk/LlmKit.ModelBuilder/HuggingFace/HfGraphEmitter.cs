using LlmKit.ModelBuilder.Lora;
using LlmKit.ModelBuilder.Onnx;
using LlmKit.ModelBuilder.Onnx.Protos;
using static LlmKit.ModelBuilder.Onnx.GraphBuilder;

namespace LlmKit.ModelBuilder.HuggingFace;

/// <summary>
/// Emits the official onnxruntime-genai CPU graph for an <see cref="HfDecoderSpec"/>, reading one tensor at a time
/// from <see cref="HfWeights"/>. The same node pattern as the llama2.c OrtGenAI form (SimplifiedLayerNormalization,
/// SkipSimplifiedLayerNormalization carrying the residual, GroupQueryAttention, optional MatMulNBits int4), with the
/// Hugging Face switches: RoPE over the two halves of each head (rotary_interleaved = 0), q/k/v biases, Gemma's
/// embedding scale, (1 + w) norms, FastGelu (GeGLU), GQA softcap and local_window_size, sandwich norms and a final
/// logit softcap. With a whole-model sliding window the graph takes position_ids and separate RotaryEmbedding
/// nodes and its KV cache is concatenated (not shared), so the runtime can drop positions that left the window.
/// </summary>
internal sealed class HfGraphEmitter
{
    private const string Microsoft = "com.microsoft";
    private readonly GraphBuilder _g;
    private readonly TensorStore _store;
    private readonly HfWeights _w;
    private readonly HfDecoderSpec _s;
    private readonly int _maxLength;
    private readonly WeightPrecision _precision;
    private readonly int _accuracyLevel;

    public HfGraphEmitter(GraphBuilder graph, TensorStore store, HfWeights weights, int maxLength, WeightPrecision precision, int int4AccuracyLevel)
    {
        _g = graph;
        _store = store;
        _w = weights;
        _s = weights.Spec;
        _maxLength = maxLength;
        _precision = precision;
        _accuracyLevel = int4AccuracyLevel;
    }

    /// <summary>
    /// True when the graph takes position_ids (RotaryEmbedding nodes, concatenated KV): for a whole-model sliding
    /// window, or a head size GroupQueryAttention's fused rotary cannot take (it needs a multiple of 16 on CPU).
    /// </summary>
    public static bool UsesPositionIds(HfDecoderSpec spec) => spec.WholeModelWindow || spec.HeadDim % 16 != 0;

    /// <summary>True when GroupQueryAttention writes into KV buffers allocated at max_length (past_present_share_buffer).</summary>
    public static bool SharesKvBuffers(HfDecoderSpec spec) => !spec.WholeModelWindow;

    /// <summary>Called after each phase step (tensor group) with (done, total) for progress reporting.</summary>
    public Action<int, int>? Progress { get; init; }

    private LoraGraphInputs? _lora;

    /// <summary>
    /// Adds LoRA inputs to q, k, v, o, gate, up and down of every layer (see <see cref="LoraGraphInputs"/>), in the
    /// checkpoint's own row order, so PEFT adapters trained on the Hugging Face checkpoint apply as they are. The
    /// fused projections of Phi3 have no per-module inputs: the converter refuses them before emitting.
    /// </summary>
    public HfGraphEmitter WithLoraInputs()
    {
        _lora = new LoraGraphInputs(_g);
        return this;
    }

    public void Emit(CancellationToken cancellationToken)
    {
        bool positionIds = UsesPositionIds(_s);
        DeclareIo(positionIds);
        int steps = _s.Layers + 2;

        const string table = "model.embed_tokens.weight";
        var embedding = _w.Embedding();
        _g.Initializer(Tensor(table, [_s.VocabSize, _s.Hidden], span => embedding.Span.CopyTo(span)));
        string root = _g.Node("Gather", "/model/embed_tokens/Gather", [table, "input_ids"]);
        if (_s.EmbeddingScale != 1f)
        {
            root = _g.Node("Mul", "/model/embed_tokens/Mul", [root, Scalar("/model/constants/embedding_scale", _s.EmbeddingScale)]);
        }

        var (seqlensK, totalLength) = AttentionMaskInfo();
        RopeCaches();
        Progress?.Invoke(1, steps);

        string skip = "";
        for (int l = 0; l < _s.Layers; l++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            string normed;
            if (l == 0)
            {
                normed = Norm("/model/layers.0/input_layernorm/LayerNorm", "model.layers.0.input_layernorm.weight", root, _w.LayerNorm(0, "input_layernorm"));
            }
            else
            {
                (normed, root) = SkipNorm($"/model/layers.{l}/input_layernorm", $"model.layers.{l}.input_layernorm.weight", root, skip, _w.LayerNorm(l, "input_layernorm"), last: false);
            }

            string attention = Attention(l, normed, seqlensK, totalLength, positionIds);
            if (_s.SandwichNorms)
            {
                attention = Norm($"/model/layers.{l}/post_attention_layernorm/LayerNorm", $"model.layers.{l}.post_attention_layernorm.weight", attention, _w.LayerNorm(l, "post_attention_layernorm"));
                (normed, root) = SkipNorm($"/model/layers.{l}/pre_feedforward_layernorm", $"model.layers.{l}.pre_feedforward_layernorm.weight", root, attention, _w.LayerNorm(l, "pre_feedforward_layernorm"), last: false);
                string mlp = Mlp(l, normed);
                skip = Norm($"/model/layers.{l}/post_feedforward_layernorm/LayerNorm", $"model.layers.{l}.post_feedforward_layernorm.weight", mlp, _w.LayerNorm(l, "post_feedforward_layernorm"));
            }
            else
            {
                (normed, root) = SkipNorm($"/model/layers.{l}/post_attention_layernorm", $"model.layers.{l}.post_attention_layernorm.weight", root, attention, _w.LayerNorm(l, "post_attention_layernorm"), last: false);
                skip = Mlp(l, normed);
            }

            Progress?.Invoke(l + 2, steps);
        }

        int final = _s.Layers;
        var (finalNormed, _) = SkipNorm($"/model/layers.{final}/final_norm_layernorm", $"model.layers.{final}.final_norm_layernorm.weight", root, skip, _w.FinalNorm(), last: true);
        if (_s.FinalLogitSoftcap > 0f)
        {
            // logits = cap · tanh(head(x) / cap), as the official builder spells it (Div, Tanh, Mul).
            string raw = Linear("/lm_head", finalNormed, _w.LmHead(), _s.VocabSize, _s.Hidden);
            string cap = Scalar("/model/constants/final_logit_softcap", _s.FinalLogitSoftcap);
            string divided = _g.Node("Div", "/lm_head/softcap/Div", [raw, cap]);
            string tanh = _g.Node("Tanh", "/lm_head/softcap/Tanh", [divided]);
            _g.AddNode("Mul", "/lm_head/softcap/Mul", [tanh, cap], ["logits"]);
        }
        else
        {
            Linear("/lm_head", finalNormed, _w.LmHead(), _s.VocabSize, _s.Hidden, outputName: "logits");
        }

        Progress?.Invoke(steps, steps);
    }

    private void DeclareIo(bool positionIds)
    {
        _g.Input("input_ids", GraphBuilder.Int64, DecoderIo.Batch, DecoderIo.Sequence);
        _g.Input("attention_mask", GraphBuilder.Int64, DecoderIo.Batch, DecoderIo.TotalSequence);
        if (positionIds)
        {
            _g.Input("position_ids", GraphBuilder.Int64, DecoderIo.Batch, DecoderIo.Sequence);
        }

        for (int l = 0; l < _s.Layers; l++)
        {
            _g.Input($"past_key_values.{l}.key", FloatType, DecoderIo.Batch, _s.KvHeads, DecoderIo.PastSequence, _s.HeadDim);
            _g.Input($"past_key_values.{l}.value", FloatType, DecoderIo.Batch, _s.KvHeads, DecoderIo.PastSequence, _s.HeadDim);
        }

        _g.Output("logits", FloatType, DecoderIo.Batch, DecoderIo.Sequence, _s.VocabSize);
        for (int l = 0; l < _s.Layers; l++)
        {
            _g.Output($"present.{l}.key", FloatType, DecoderIo.Batch, _s.KvHeads, DecoderIo.TotalSequence, _s.HeadDim);
            _g.Output($"present.{l}.value", FloatType, DecoderIo.Batch, _s.KvHeads, DecoderIo.TotalSequence, _s.HeadDim);
        }
    }

    private string Scalar(string name, float value)
    {
        _g.Initializer(Tensor(name, [], s => s[0] = value));
        return name;
    }

    // Weights and constants in the graph's float type: float16 for an fp16 folder, float32 otherwise.
    private TensorProto Tensor(string name, long[] dims, Action<Span<float>> fill) =>
        _precision == WeightPrecision.Fp16 ? _store.Half(name, dims, fill) : _store.Float(name, dims, fill);

    private int FloatType => _precision == WeightPrecision.Fp16 ? GraphBuilder.Float16 : GraphBuilder.Float;

    private (string SeqlensK, string TotalLength) AttentionMaskInfo()
    {
        const string p = "/model/attn_mask_reformat/attn_mask_subgraph";
        string one = _g.Int64Vector("/model/constants/INT64/[1]", 1);
        string sum = _g.Node("ReduceSum", $"{p}/ReduceSum", ["attention_mask", one], Attr("keepdims", 0L));
        string lengths = _g.Node("Sub", $"{p}/Sub", [sum, _g.Int64Constant("/model/constants/INT64/1", [], 1)]);
        string seqlensK = _g.Node("Cast", $"{p}/Sub/Cast", [lengths], Attr("to", (long)GraphBuilder.Int32));
        string shape = _g.Node("Shape", $"{p}/Shape", ["attention_mask"]);
        string total = _g.Node("Gather", $"{p}/Gather", [shape, _g.Int64Constant("/model/constants/INT64/1", [], 1)], Attr("axis", 0L));
        return (seqlensK, _g.Node("Cast", $"{p}/Gather/Cast", [total], Attr("to", (long)GraphBuilder.Int32)));
    }

    // The half-rotation tables [max_length, head_dim / 2]: the same angles as llama2.c's pairs, applied to (x[i], x[i + d/2]);
    // longrope with two factor sets gets two table pairs and a switch on the total length (the int64 Gather output);
    // dynamic NTK's frequencies depend on each run's length, so its tables are inputs the runtime fills.
    private void RopeCaches()
    {
        if (_s.RopeScaling?.Type == RopeScalingType.Dynamic)
        {
            DynamicRopeInputs.Declare(_g, _maxLength, _s.HeadDim / 2);
            return;
        }

        RopeCacheSwitch.Emit(_g, Tensor, FloatType, _maxLength, _s.HeadDim / 2, _s.RopeScaling, _s.RopeFrequenciesFor,
            "/model/attn_mask_reformat/attn_mask_subgraph/Gather/output_0");
    }

    private string Attention(int l, string input, string seqlensK, string totalLength, bool positionIds)
    {
        string p = $"/model/layers.{l}/attn";
        var attributes = new List<AttributeProto>
        {
            Attr("num_heads", (long)_s.Heads),
            Attr("kv_num_heads", (long)_s.KvHeads),
            Attr("scale", _s.AttentionScale),
            Attr("do_rotary", positionIds ? 0L : 1L),
            Attr("rotary_interleaved", 0L), // Hugging Face rotates the two halves of each head
        };
        if (_s.IsSlidingLayer(l))
        {
            // ONNX Runtime 1.32's GroupQueryAttention lets a query see local_window_size keys, itself included: the
            // same count as Hugging Face's window W (measured against the reference; older kernels saw W + 1).
            attributes.Add(Attr("local_window_size", (long)_s.SlidingWindow!.Value));
        }

        if (_s.AttentionSoftcap > 0f)
        {
            attributes.Add(Attr("softcap", _s.AttentionSoftcap));
        }

        var bias = _w.QkvBias(l);
        string[] inputs;
        if (!positionIds)
        {
            // One packed [q | k | v] projection; GroupQueryAttention splits it and applies RoPE itself.
            string qkv = Linear($"{p}/qkv_proj", input, _w.Qkv(l), _s.QDim + (2 * _s.KvDim), _s.Hidden);
            if (bias is { } b)
            {
                qkv = AddBias($"{p}/qkv_proj", qkv, [.. b.Q, .. b.K, .. b.V]);
            }

            if (_lora is not null)
            {
                // The packed projection gets the three deltas side by side, in its [q | k | v] order.
                qkv = _lora.WrapPacked(l, input, qkv, _s.QDim, _s.KvDim, _s.Hidden);
            }

            inputs = [qkv, "", "", $"past_key_values.{l}.key", $"past_key_values.{l}.value", seqlensK, totalLength, "cos_cache", "sin_cache"];
        }
        else
        {
            string q = Linear($"{p}/q_proj", input, _w.Q(l), _s.QDim, _s.Hidden);
            string k = Linear($"{p}/k_proj", input, _w.K(l), _s.KvDim, _s.Hidden);
            string v = Linear($"{p}/v_proj", input, _w.V(l), _s.KvDim, _s.Hidden);
            if (bias is { } b)
            {
                q = AddBias($"{p}/q_proj", q, b.Q);
                k = AddBias($"{p}/k_proj", k, b.K);
                v = AddBias($"{p}/v_proj", v, b.V);
            }

            q = WithLora(l, 0, input, q, _s.QDim, _s.Hidden);
            k = WithLora(l, 1, input, k, _s.KvDim, _s.Hidden);
            v = WithLora(l, 2, input, v, _s.KvDim, _s.Hidden);

            q = _g.DomainNode(Microsoft, "RotaryEmbedding", $"{p}/q_rotary/RotaryEmbedding", [q, "position_ids", "cos_cache", "sin_cache"], Attr("interleaved", 0L));
            k = _g.DomainNode(Microsoft, "RotaryEmbedding", $"{p}/k_rotary/RotaryEmbedding", [k, "position_ids", "cos_cache", "sin_cache"], Attr("interleaved", 0L));
            inputs = [q, k, v, $"past_key_values.{l}.key", $"past_key_values.{l}.value", seqlensK, totalLength];
        }

        string name = $"{p}/GroupQueryAttention";
        string output = $"{name}/output_0";
        _g.AddNode("GroupQueryAttention", name, inputs, [output, $"present.{l}.key", $"present.{l}.value"], Microsoft, [.. attributes]);
        return WithLora(l, 3, output, Linear($"{p}/o_proj", output, _w.O(l), _s.Hidden, _s.QDim), _s.Hidden, _s.QDim);
    }

    private string Mlp(int l, string input)
    {
        string p = $"/model/layers.{l}/mlp";
        string gate = WithLora(l, 4, input, Linear($"{p}/gate_proj", input, _w.Gate(l), _s.Intermediate, _s.Hidden), _s.Intermediate, _s.Hidden);
        string up = WithLora(l, 5, input, Linear($"{p}/up_proj", input, _w.Up(l), _s.Intermediate, _s.Hidden), _s.Intermediate, _s.Hidden);
        string activated = _s.Activation == GatedActivation.GeluTanh
            ? _g.DomainNode(Microsoft, "FastGelu", $"{p}/act_fn/FastGelu", [gate])
            : _g.Node("Mul", $"{p}/act_fn/Mul", [gate, _g.Node("Sigmoid", $"{p}/act_fn/Sigmoid", [gate])]);
        string hidden = _g.Node("Mul", $"{p}/Mul", [activated, up]);
        return WithLora(l, 6, hidden, Linear($"{p}/down_proj", hidden, _w.Down(l), _s.Hidden, _s.Intermediate), _s.Hidden, _s.Intermediate);
    }

    // module indexes LoraModule.All (q, k, v, o, gate, up, down); the delta is added after any bias, as PEFT does.
    private string WithLora(int l, int module, string input, string baseOutput, int outFeatures, int inFeatures) =>
        _lora is null ? baseOutput : _lora.Wrap(l, LoraModule.All[module], input, baseOutput, outFeatures, inFeatures);

    private string AddBias(string basename, string input, float[] bias)
    {
        string weightName = $"{basename[1..].Replace('/', '.')}.Add.bias";
        _g.Initializer(Tensor(weightName, [bias.Length], s => bias.CopyTo(s)));
        return _g.Node("Add", $"{basename}/Add", [input, weightName]);
    }

    // Gemma's norms multiply by (1 + w): the offset is folded into the stored weight, as the official builder does.
    private float[] NormWeight(float[] raw)
    {
        if (_s.NormWeightOffset != 0f)
        {
            for (int i = 0; i < raw.Length; i++)
            {
                raw[i] += _s.NormWeightOffset;
            }
        }

        return raw;
    }

    private string Norm(string name, string weightName, string input, float[] raw)
    {
        float[] weight = NormWeight(raw);
        _g.Initializer(Tensor(weightName, [weight.Length], s => weight.CopyTo(s)));
        string output = $"{name[..name.LastIndexOf('/')]}/output_0";
        _g.AddNode("SimplifiedLayerNormalization", name, [input, weightName], [output], "", Attr("axis", -1L), Attr("epsilon", _s.NormEps), Attr("stash_type", 1L));
        return output;
    }

    // SkipSimplifiedLayerNormalization: output 0 = RMSNorm(root + skip), output 3 = root + skip (the new residual).
    private (string Normed, string Residual) SkipNorm(string p, string weightName, string root, string skip, float[] raw, bool last)
    {
        float[] weight = NormWeight(raw);
        _g.Initializer(Tensor(weightName, [weight.Length], s => weight.CopyTo(s)));
        string normed = $"{p}/output_0", residual = $"{p}/output_3";
        string[] outputs = last ? [normed] : [normed, "", "", residual];
        _g.AddNode("SkipSimplifiedLayerNormalization", $"{p}/SkipLayerNorm", [root, skip, weightName], outputs, Microsoft, Attr("epsilon", _s.NormEps));
        return (normed, residual);
    }

    // y = x · Wᵀ for W [n, k]: MatMul over the transposed fp32 weight, or MatMulNBits over 4-bit blocks.
    private string Linear(string basename, string input, Memory<float> weight, int n, int k, string? outputName = null)
    {
        string weightPrefix = basename[1..].Replace('/', '.');
        if (_precision != WeightPrecision.Int4)
        {
            string name = $"{basename}/MatMul";
            string weightName = $"{weightPrefix}.MatMul.weight";
            _g.Initializer(Tensor(weightName, [k, n], s => WeightTransforms.Transpose(weight.Span, n, k, s)));
            string output = outputName ?? $"{name}/output_0";
            _g.AddNode("MatMul", name, [input, weightName], [output]);
            return output;
        }

        return MatMulNBitsEmitter.Emit(_g, _store, basename, weightPrefix, input, weight, n, k, _accuracyLevel, zeroPoints: false, outputName);
    }
}
