using LLama;
using LLama.Native;
using LlmKit.ModelBuilder;

namespace LlmKit.Benchmarks.Peers;

/// <summary>The GGUF weight types the peers benchmark gives llama.cpp.</summary>
internal enum GgufWeights
{
    F32,
    Q8_0,
    Q4_0,
}

/// <summary>
/// Writes a llama2.c checkpoint and its tokenizer as a <c>llama</c>-architecture F32 GGUF, and quantises such a file
/// with llama.cpp's own quantiser. llama2.c applies RoPE to adjacent pairs, which is llama.cpp's native (non-NeoX)
/// layout for <c>llama</c>, so q and k need no permutation. Bench code.
/// </summary>
internal static class GgufLlama2c
{
    /// <summary>Changes whenever the written file would change (part of the cache key).</summary>
    public const int WriterVersion = 1;

    // llama.cpp's token types (llama_token_type): normal, unknown, control, byte.
    private const int Normal = 1, Unknown = 2, Control = 3, Byte = 6;

    public static void WriteF32(string checkpointPath, string tokenizerPath, string outputPath, string name)
    {
        var checkpoint = Llama2cCheckpoint.Load(checkpointPath);
        var c = checkpoint.Config;
        var weights = checkpoint.Weights;
        var tokenizer = Llama2cTokenizerFile.Load(tokenizerPath, c.VocabSize);

        var gguf = new GgufFile();
        gguf.AddString("general.architecture", "llama");
        gguf.AddString("general.name", name);
        gguf.AddUInt32("general.file_type", 0); // all F32
        gguf.AddUInt32("llama.context_length", (uint)c.SeqLen);
        gguf.AddUInt32("llama.embedding_length", (uint)c.Dim);
        gguf.AddUInt32("llama.block_count", (uint)c.Layers);
        gguf.AddUInt32("llama.feed_forward_length", (uint)c.HiddenDim);
        gguf.AddUInt32("llama.attention.head_count", (uint)c.Heads);
        gguf.AddUInt32("llama.attention.head_count_kv", (uint)c.KvHeads);
        gguf.AddUInt32("llama.rope.dimension_count", (uint)c.HeadSize);
        gguf.AddFloat32("llama.attention.layer_norm_rms_epsilon", c.NormEps);
        gguf.AddFloat32("llama.rope.freq_base", c.RopeTheta);

        // SentencePiece-style vocabulary: spaces as U+2581, the three specials under their usual names
        // (stories260K's file stores "\n<s>\n" and "\n</s>\n"), byte pieces <0xXX> typed as bytes.
        var tokens = new string[c.VocabSize];
        var types = new int[c.VocabSize];
        for (int id = 0; id < c.VocabSize; id++)
        {
            (tokens[id], types[id]) = id switch
            {
                Llama2cTokenizerFile.UnknownId => ("<unk>", Unknown),
                Llama2cTokenizerFile.BosId => ("<s>", Control),
                Llama2cTokenizerFile.EosId => ("</s>", Control),
                _ when Llama2cTokenizerFile.IsByteId(id) => ($"<0x{id - Llama2cTokenizerFile.FirstByteId:X2}>", Byte),
                _ => (tokenizer.Pieces[id].Replace(' ', '\u2581'), Normal),
            };
        }

        gguf.AddString("tokenizer.ggml.model", "llama");
        gguf.AddStringArray("tokenizer.ggml.tokens", tokens);
        gguf.AddFloat32Array("tokenizer.ggml.scores", tokenizer.Scores);
        gguf.AddInt32Array("tokenizer.ggml.token_type", types);
        gguf.AddUInt32("tokenizer.ggml.bos_token_id", Llama2cTokenizerFile.BosId);
        gguf.AddUInt32("tokenizer.ggml.eos_token_id", Llama2cTokenizerFile.EosId);
        gguf.AddUInt32("tokenizer.ggml.unknown_token_id", Llama2cTokenizerFile.UnknownId);

        // llama2.c matrices are row-major [out, in]; ggml lists dimensions innermost first: [in, out].
        long d = c.Dim, h = c.HiddenDim, kv = c.KvDim, v = c.VocabSize;
        gguf.AddTensor("token_embd.weight", [d, v], weights.TokenEmbedding);
        for (int l = 0; l < c.Layers; l++)
        {
            gguf.AddTensor($"blk.{l}.attn_norm.weight", [d], weights.Layer(weights.RmsAttention, l));
            gguf.AddTensor($"blk.{l}.attn_q.weight", [d, d], weights.Layer(weights.Wq, l));
            gguf.AddTensor($"blk.{l}.attn_k.weight", [d, kv], weights.Layer(weights.Wk, l));
            gguf.AddTensor($"blk.{l}.attn_v.weight", [d, kv], weights.Layer(weights.Wv, l));
            gguf.AddTensor($"blk.{l}.attn_output.weight", [d, d], weights.Layer(weights.Wo, l));
            gguf.AddTensor($"blk.{l}.ffn_norm.weight", [d], weights.Layer(weights.RmsFeedForward, l));
            gguf.AddTensor($"blk.{l}.ffn_gate.weight", [d, h], weights.Layer(weights.W1, l));
            gguf.AddTensor($"blk.{l}.ffn_down.weight", [h, d], weights.Layer(weights.W2, l));
            gguf.AddTensor($"blk.{l}.ffn_up.weight", [d, h], weights.Layer(weights.W3, l));
        }

        gguf.AddTensor("output_norm.weight", [d], weights.RmsFinal);
        gguf.AddTensor("output.weight", [d, v], weights.Classifier); // written even when tied, as the ONNX folders hold their own head
        gguf.Write(outputPath);
    }

    /// <summary>Quantises an F32 GGUF with llama.cpp (its default per-tensor rules: for Q4_0 the output head becomes Q6_K).</summary>
    public static void Quantize(string f32Path, string outputPath, GgufWeights type)
    {
        NativeApi.llama_empty_call(); // loads the native library; Quantize alone throws DllNotFoundException
        var ftype = type switch
        {
            GgufWeights.Q8_0 => LLamaFtype.MOSTLY_Q8_0,
            GgufWeights.Q4_0 => LLamaFtype.MOSTLY_Q4_0,
            _ => throw new ArgumentOutOfRangeException(nameof(type), type, "only Q8_0 and Q4_0 are quantised"),
        };
        string temporary = outputPath + ".partial";
        if (!LLamaQuantizer.Quantize(f32Path, temporary, ftype, Environment.ProcessorCount, false, true))
        {
            throw new InvalidOperationException($"llama.cpp could not quantise {f32Path} to {type}.");
        }

        File.Move(temporary, outputPath, overwrite: true);
    }
}
